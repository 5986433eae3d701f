//! `server`: serve the app, or manage users and keys. `server --help` lists it all.

use std::io::Read;

use clap::Parser;
use server::config::{Cli, Command, KeysCommand, UserCommand};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    server::logging::init(cli.log_format);
    match cli.command {
        None => serve(cli.serve, &cli.database_url).await,
        Some(Command::Serve(config)) => serve(*config, &cli.database_url).await,
        Some(Command::User(UserCommand::Add {
            username, roles, ..
        })) => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            // One trailing newline comes from `echo`; the password itself is kept as typed.
            let password = password.strip_suffix('\n').unwrap_or(&password);
            let password = password.strip_suffix('\r').unwrap_or(password);
            let state =
                server::build(server::config::Config::defaults(), &cli.database_url).await?;
            let user = state.create_user(&username, password, &roles).await?;
            println!(
                "created user {} with roles {}",
                user.username,
                user.roles.join(", ")
            );
            Ok(())
        }
        Some(Command::Healthcheck) => server::healthcheck::probe(cli.serve.addr).await,
        Some(Command::Keys(KeysCommand::Rotate)) => {
            let store = server::store::Store::connect(&cli.database_url).await?;
            let now = chrono::Utc::now().timestamp();
            let kid = server::keys::add_key(&store, now).await?;
            println!("new signing key {kid}; running servers pick it up within a minute");
            Ok(())
        }
    }
}

async fn serve(config: server::config::Config, database_url: &str) -> anyhow::Result<()> {
    if !config.static_dir.join("index.html").exists() {
        tracing::warn!(dir = %config.static_dir.display(), "no built SPA here; only the API is served");
    }
    let addr = config.addr;
    let state = server::build(config, database_url).await?;
    let demo = server::users::ensure_demo_users(&state).await?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let url = format!("http://{}", listener.local_addr()?);
    println!("Serving on {url}");
    if !demo.is_empty() {
        println!("Created demo users (shown once):");
        for (name, password, role) in &demo {
            println!("  {name} / {password}   (role {role})");
        }
    }
    server::serve(state, listener).await
}
