//! `server`: serve the app, or manage users, keys and OAuth clients. `server --help`
//! lists it all.

use std::io::Read;

use clap::Parser;
use server::config::{Cli, ClientCommand, Command, KeysCommand, UserCommand};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "server=info,tower_http=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve, &cli.database_url).await,
        Some(Command::Serve(config)) => serve(config, &cli.database_url).await,
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
        Some(Command::Keys(KeysCommand::Rotate)) => {
            let store = server::store::Store::connect(&cli.database_url).await?;
            let now = chrono::Utc::now().timestamp();
            let kid = server::keys::add_key(&store, now).await?;
            println!("new signing key {kid}; running servers pick it up within a minute");
            Ok(())
        }
        Some(Command::Client(command)) => client(command, &cli.database_url).await,
    }
}

/// `server client ...`. `add` prints only the `client_id` on stdout, so scripts can
/// capture it; the rest goes to stderr.
async fn client(command: ClientCommand, database_url: &str) -> anyhow::Result<()> {
    let state = server::build(server::config::Config::defaults(), database_url).await?;
    match command {
        ClientCommand::Add {
            name,
            redirect_uris,
        } => {
            let client = state.register_client(&name, &redirect_uris).await?;
            eprintln!(
                "registered client {:?} with redirect URIs {}",
                client.name,
                client.redirect_uris.replace(' ', ", ")
            );
            println!("{}", client.id);
        }
        ClientCommand::List => {
            for client in state.clients().await? {
                println!("{}\t{}\t{}", client.id, client.name, client.redirect_uris);
            }
        }
        ClientCommand::Remove { client_id } => {
            let ended = state.remove_client(&client_id).await?;
            println!("removed client {client_id}; {ended} session(s) ended");
        }
    }
    Ok(())
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
