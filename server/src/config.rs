//! Command line and environment: one `clap` struct, `env` on every flag.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::logging::LogFormat;

/// JWT refresh done right: session server.
#[derive(Debug, Parser)]
#[command(
    name = "server",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Database URL: `sqlite://path?mode=rwc` (embedded, one instance) or
    /// `postgres://...` (several instances sharing the load).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/server.db?mode=rwc",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,

    /// File with the key-encryption key (at least 32 random bytes) that encrypts the
    /// signing keys in the database. Default on SQLite: `secret.key` beside the database,
    /// created on first start; required on PostgreSQL.
    #[arg(long, env = "SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<PathBuf>,

    /// The key-encryption key itself (at least 32 bytes), for platforms without files;
    /// prefer `SECRET_KEY_FILE`.
    #[arg(long, env = "SECRET_KEY", hide_env_values = true, global = true)]
    pub secret_key: Option<Redacted>,
    /// Log lines as `text` for people or `json` (one object a line) for log shippers.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Settings of `serve`, which runs when no subcommand is given.
    #[command(flatten)]
    pub serve: Config,
}

impl Cli {
    /// Where the key-encryption key comes from, for this database.
    pub fn kek_source(&self) -> anyhow::Result<crate::secrets::KekSource> {
        crate::secrets::KekSource::choose(
            self.secret_key.as_ref().map(|k| k.0.as_str()),
            self.secret_key_file.as_deref(),
            &self.database_url,
        )
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the built SPA (the default).
    Serve(Box<Config>),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Exit 0 if the server at `--addr` / `ADDR` answers `/healthz` (container health checks).
    Healthcheck,
    /// Manage OAuth clients (third-party and native apps that sign users in through the
    /// browser).
    #[command(subcommand)]
    Client(ClientCommand),
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a public client; prints its `client_id`.
    Add {
        /// The name users see: "<NAME> wants to access your account".
        name: String,
        /// Where the browser may return with the code; repeat for several. https, http on
        /// 127.0.0.1 / [::1] / localhost (any port matches), or a reverse-domain scheme
        /// such as `com.example.app:/callback`.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
    },
    /// List the registered clients.
    List,
    /// Remove a client; every session it holds ends.
    Remove {
        /// The `client_id` printed by `client add`.
        client_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Remove a user: every session ends and every access token stops at once.
    Remove { username: String },
    /// Create a user; the password is read from standard input.
    Add {
        /// Login name (letters, digits, `.`, `_`, `-`; 1 to 64 characters).
        username: String,
        /// Role to grant; repeat for several (`--role admin --role user`).
        #[arg(long = "role", default_value = "user")]
        roles: Vec<String>,
        /// Read the password from standard input (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key. It is published in the JWKS at once and signs from
    /// `--activate-in` later, when every instance has loaded it; older public keys stay
    /// published until their last token has expired.
    Rotate {
        /// How long until the new key signs: longer than `--resync-interval` of the
        /// running servers and than any JWKS cache of other verifiers.
        #[arg(long, default_value = "2m", value_parser = parse_any_duration)]
        activate_in: Duration,
    },
}

/// What to do when a refresh comes from another User-Agent than the session's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BindingPolicy {
    /// Write an audit event and carry on.
    Log,
    /// End the session as `wrong_device`.
    Revoke,
}

/// Settings of the session engine and the HTTP server.
#[derive(Clone, Debug, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Directory of the built SPA (Trunk's `dist/`); unknown paths fall back to its
    /// `index.html` so client routes survive a reload.
    #[arg(long, env = "STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// Lifetime of an access token (`15m`, `3s`, ...).
    #[arg(long, env = "ACCESS_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_ttl: Duration,

    /// How long a rotated refresh token still yields its successor (a lost response,
    /// a second tab) before presenting it counts as reuse.
    #[arg(long, env = "REFRESH_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub refresh_grace: Duration,

    /// A session ends when it has not been refreshed for this long.
    #[arg(long, env = "IDLE_TTL", default_value = "30m", value_parser = parse_duration)]
    pub idle_ttl: Duration,

    /// Absolute lifetime of a session signed in with "Remember me".
    #[arg(long, env = "ABSOLUTE_TTL", default_value = "30days", value_parser = parse_duration)]
    pub absolute_ttl: Duration,

    /// Absolute lifetime of a session without "Remember me" (its cookie dies with the browser).
    #[arg(long, env = "ABSOLUTE_TTL_SHORT", default_value = "12h", value_parser = parse_duration)]
    pub absolute_ttl_short: Duration,

    /// Clock skew tolerated when checking `exp` and `nbf`.
    #[arg(long, env = "LEEWAY", default_value = "0s", value_parser = parse_any_duration)]
    pub leeway: Duration,

    /// `iss` of issued tokens, and the only one accepted.
    #[arg(long, env = "ISSUER", default_value = "jwt-refresh")]
    pub issuer: String,

    /// `aud` of issued tokens, and the only one accepted.
    #[arg(long, env = "AUDIENCE", default_value = "jwt-refresh-app")]
    pub audience: String,

    /// Mark the refresh cookie `Secure`. Browsers accept Secure cookies on
    /// `http://127.0.0.1` and `http://localhost`; turn off only for other plain-HTTP hosts.
    #[arg(long, env = "COOKIE_SECURE", default_value_t = true, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,

    /// Policy for a refresh from a User-Agent other than the session's.
    #[arg(long, env = "UA_POLICY", value_enum, default_value_t = BindingPolicy::Log)]
    pub ua_policy: BindingPolicy,

    /// Login attempts per minute from one IP address.
    #[arg(long, env = "LOGIN_PER_IP", default_value_t = 30)]
    pub login_per_ip: u32,

    /// Failed sign-ins per hour for one username from browsers not known to be its
    /// owner's (the bucket holds this many and refills this many an hour, so at most
    /// twice this in any hour: 50 keeps within ASVS 2.2.1's 100).
    #[arg(long, env = "LOGIN_PER_USER", default_value_t = 50)]
    pub login_per_user: u32,

    /// Refreshes per minute from one IP address (many users may share one).
    #[arg(long, env = "REFRESH_PER_IP", default_value_t = 600)]
    pub refresh_per_ip: u32,

    /// Refreshes per minute of one session (a storm from a broken client).
    #[arg(long, env = "REFRESH_PER_SESSION", default_value_t = 60)]
    pub refresh_per_session: u32,

    /// Backend-managed refresh: on a bearer route, an expired access token plus a valid
    /// refresh cookie is rotated in the server, and the new access token comes back in
    /// the `X-Access-Token` response header. The cookie's path widens to `/api` for it.
    #[arg(long, env = "BACKEND_REFRESH", default_value_t = false, action = clap::ArgAction::Set)]
    pub backend_refresh: bool,

    /// Shorthand for `PROXY_HOPS=1`: one reverse proxy (Netlify, Vercel, a load
    /// balancer) appends the client's address to `X-Forwarded-For`.
    #[arg(long, env = "TRUST_PROXY", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_proxy: bool,

    /// Number of reverse proxies in front of the server that append to
    /// `X-Forwarded-For` (Netlify, Vercel, a load balancer: usually 1). The client is the
    /// entry that many hops from the right; 0 ignores the header.
    #[arg(long, env = "PROXY_HOPS", default_value_t = 0)]
    pub proxy_hops: usize,

    /// Addresses of your reverse proxies (CIDRs, comma-separated). A peer in this list
    /// is a proxy: the client is the rightmost `X-Forwarded-For` entry that is not.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Origins (besides the server's own) whose pages may sign in, refresh and sign out
    /// with the cookie, comma-separated (`https://app.example.com`). Needed when the SPA
    /// is served from another host than the API sees, e.g. through a Netlify proxy.
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Send `Strict-Transport-Security` (enable when the server is reached over HTTPS).
    #[arg(long, env = "HSTS", default_value_t = false, action = clap::ArgAction::Set)]
    pub hsts: bool,

    /// Serve Prometheus metrics at `http://<this>/metrics`, on a listener of its own so
    /// they are never public by accident. Off unless set (`127.0.0.1:9100`).
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// The URL people reach this app at (`https://app.example.com`): the OAuth issuer,
    /// which the metadata's endpoints hang off. Unset, each request's Host says it
    /// (`http` on loopback, `https` elsewhere); set it behind a proxy.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "BODY_LIMIT", default_value_t = 16 * 1024)]
    pub body_limit: usize,

    /// A client that has not sent a request's headers within this time is disconnected
    /// (slow-loris); also how long an idle keep-alive connection stays open.
    #[arg(long, env = "HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// A request (body included) that takes longer gets 408 and its connection closes.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Open connections at most; more are refused at once.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 768)]
    pub max_connections: usize,

    /// Open connections from one IP at most (0: no cap). Peers in `TRUSTED_PROXIES` are
    /// exempt; behind a load balancer you do not list there, raise it or set 0.
    #[arg(long, env = "MAX_CONNECTIONS_PER_IP", default_value_t = 64)]
    pub max_connections_per_ip: usize,

    /// Password hashes computed at once (each takes ~19 MiB and a core for ~25 ms);
    /// default: half the cores, at least one.
    #[arg(long, env = "HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,

    /// Password checks that may wait for a hashing slot; more get 503 + `Retry-After`.
    #[arg(long, env = "HASH_QUEUE", default_value_t = 32)]
    pub hash_queue: usize,

    /// Sign-ins per minute for one username from one IP address.
    #[arg(long, env = "LOGIN_PER_USER_IP", default_value_t = 10)]
    pub login_per_user_ip: u32,

    /// Sign-ins per minute from one known device (a browser that signed in as that user
    /// before): its own budget, untouched by others' guessing, so an attack on an
    /// account does not lock its owner out.
    #[arg(long, env = "LOGIN_PER_DEVICE", default_value_t = 10)]
    pub login_per_device: u32,

    /// Password changes per hour for one user.
    #[arg(long, env = "PASSWORD_CHANGES_PER_USER", default_value_t = 10)]
    pub password_changes_per_user: u32,

    /// Audit events older than this are deleted.
    #[arg(long, env = "AUDIT_RETENTION", default_value = "90days", value_parser = parse_duration)]
    pub audit_retention: Duration,

    /// How often each instance reloads revocations and keys from the database in full:
    /// the safety net under cluster events.
    #[arg(long, env = "RESYNC_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub resync_interval: Duration,

    /// Redis for rate limits shared by several instances (`redis://127.0.0.1:6379`);
    /// without it each instance limits on its own.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Database connections of this instance (default: 8 readers and one writer on
    /// SQLite, 16 on PostgreSQL, plus one there for refresh-token rotations; the
    /// `lambda` function: 2, since every warm instance holds its own: put PgBouncer or
    /// RDS Proxy in front of PostgreSQL there).
    #[arg(long, env = "DATABASE_POOL_SIZE")]
    pub database_pool_size: Option<u32>,

    /// Prefix of this deployment's keys in Redis.
    #[arg(long, env = "REDIS_PREFIX", default_value = "jwt-refresh:")]
    pub redis_prefix: String,

    /// Create the demo users `alice` (admin) and `bob` on an empty database and print
    /// their passwords (the run command does; a production start must not).
    #[arg(long, env = "DEMO_USERS", default_value_t = false, action = clap::ArgAction::Set)]
    pub demo_users: bool,
}

/// A secret setting: `Debug` never shows it.
#[derive(Clone)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Redacted {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl Config {
    /// How many `X-Forwarded-For` hops to believe.
    pub fn proxy_hops(&self) -> usize {
        if self.trust_proxy {
            self.proxy_hops.max(1)
        } else {
            self.proxy_hops
        }
    }

    /// Password hashes computed at once.
    pub fn hash_concurrency(&self) -> usize {
        self.hash_concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
        })
    }

    /// Where the browser sends the refresh cookie: only the auth routes, unless the
    /// server refreshes on any API route (backend-managed mode).
    pub fn cookie_path(&self) -> &'static str {
        if self.backend_refresh {
            "/api"
        } else {
            wire::AUTH_PATH
        }
    }

    /// The documented defaults (and whatever the environment sets, as for the binary):
    /// a base for tests and embedders to adjust.
    pub fn defaults() -> Self {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            config: Config,
        }
        Only::parse_from(["server"]).config
    }
}

fn parse_any_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (try `15m`, `3s`, `12h`)"))
}

/// Lifetimes: whole seconds, at least one, since every time rule counts in seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = parse_any_duration(s)?;
    if d < Duration::from_secs(1) {
        return Err("must be at least 1s".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_human_units_and_reject_nonsense() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert!(parse_duration("0s").is_err());
        assert_eq!(parse_any_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("soon").unwrap_err().contains("15m"));
    }

    #[test]
    fn no_subcommand_means_serve() {
        let cli = Cli::try_parse_from(["server", "--access-ttl", "3s"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.access_ttl, Duration::from_secs(3));
    }

    #[test]
    fn user_add_requires_password_from_stdin() {
        assert!(Cli::try_parse_from(["server", "user", "add", "carol"]).is_err());
        let cli = Cli::try_parse_from([
            "server",
            "user",
            "add",
            "carol",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .unwrap();
        match cli.command {
            Some(Command::User(UserCommand::Add {
                username, roles, ..
            })) => {
                assert_eq!(username, "carol");
                assert_eq!(roles, ["admin"]);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn client_add_needs_a_redirect_uri_and_takes_several() {
        assert!(Cli::try_parse_from(["server", "client", "add", "App"]).is_err());
        let cli = Cli::try_parse_from([
            "server",
            "client",
            "add",
            "My App",
            "--redirect-uri",
            "http://127.0.0.1/callback",
            "--redirect-uri",
            "com.example.app:/callback",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Client(ClientCommand::Add {
                name,
                redirect_uris,
            })) => {
                assert_eq!(name, "My App");
                assert_eq!(redirect_uris.len(), 2);
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
