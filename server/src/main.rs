//! `server`: serve the app, or manage users, keys and OAuth clients. `server --help`
//! lists it all.

use std::io::Read;

use clap::Parser;
use server::config::{Cli, ClientCommand, Command, Config, KeysCommand, UserCommand};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    server::logging::init(cli.log_format);
    if let Some(Command::Healthcheck) = cli.command {
        // The container's probe: no database, no keys.
        return server::healthcheck::probe(cli.serve.addr).await;
    }
    let kek = cli.kek_source()?;
    match cli.command {
        None => serve(cli.serve, &cli.database_url, &kek).await,
        Some(Command::Serve(config)) => serve(*config, &cli.database_url, &kek).await,
        Some(Command::Healthcheck) => unreachable!("answered above"),
        Some(Command::User(UserCommand::Add {
            username, roles, ..
        })) => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            // One trailing newline comes from `echo`; the password itself is kept as typed.
            let password = password.strip_suffix('\n').unwrap_or(&password);
            let password = password.strip_suffix('\r').unwrap_or(password);
            let state = server::build(admin_config(), &cli.database_url, &kek).await?;
            let user = state.create_user(&username, password, &roles).await?;
            println!(
                "created user {} with roles {}",
                user.username,
                user.roles.join(", ")
            );
            Ok(())
        }
        Some(Command::User(UserCommand::Remove { username })) => {
            let state = server::build(admin_config(), &cli.database_url, &kek).await?;
            if state.remove_user(&username).await? {
                println!("removed user {username}; their sessions and tokens stopped working");
                Ok(())
            } else {
                anyhow::bail!("there is no user {username}")
            }
        }
        Some(Command::Keys(KeysCommand::Rotate { activate_in })) => {
            let state = server::build(admin_config(), &cli.database_url, &kek).await?;
            let (kid, activates_at) = state.rotate_keys(activate_in).await?;
            let at = chrono::DateTime::from_timestamp(activates_at, 0).unwrap_or_default();
            println!(
                "new signing key {kid}: published in the JWKS now, signs from {} ({} from now)",
                at.to_rfc3339(),
                humantime::format_duration(activate_in)
            );
            Ok(())
        }
        Some(Command::Client(command)) => client(command, &cli.database_url, &kek).await,
    }
}

/// Settings for the user and key commands: the environment's, minus what only serving
/// needs (they must work while Redis is down).
fn admin_config() -> Config {
    let mut config = Config::defaults();
    config.redis_url = None;
    config
}

/// `server client ...`. `add` prints only the `client_id` on stdout, so scripts can
/// capture it; the rest goes to stderr.
async fn client(
    command: ClientCommand,
    database_url: &str,
    kek: &server::secrets::KekSource,
) -> anyhow::Result<()> {
    let state = server::build(admin_config(), database_url, kek).await?;
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

async fn serve(
    config: Config,
    database_url: &str,
    kek: &server::secrets::KekSource,
) -> anyhow::Result<()> {
    if !config.static_dir.join("index.html").exists() {
        tracing::warn!(dir = %config.static_dir.display(), "no built SPA here; only the API is served");
    }
    let addr = config.addr;
    let demo_users = config.demo_users;
    let state = server::build(config, database_url, kek).await?;
    let demo = if demo_users {
        server::users::ensure_demo_users(&state).await?
    } else {
        Vec::new()
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    if !demo.is_empty() {
        println!("Created demo users (shown once):");
        for (name, password, role) in &demo {
            println!("  {name} / {password}   (role {role})");
        }
    }
    // Last, so a script can wait for this line.
    println!("Serving on http://{}", listener.local_addr()?);
    server::serve(state, listener).await
}
