//! Log output: text for people (the default) or JSON, one object a line, for log
//! shippers (`LOG_FORMAT=json`). Every line written while a request is handled carries
//! its request id (the `request` span, see [`crate::app`]), as does the `X-Request-Id`
//! response header, so a line can be found from a response and back.

use clap::ValueEnum;
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// What is logged unless `RUST_LOG` says otherwise.
const DEFAULT_FILTER: &str = "server=info,tower_http=warn";

/// Installs the process-wide subscriber, writing to standard output.
pub fn init(format: LogFormat) {
    init_with(format, std::io::stdout);
}

/// [`init`] with another writer (tests read what is logged). A second call is ignored.
pub fn init_with<W>(format: LogFormat, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_FILTER.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        // The current span's fields (the request id among them) in every object.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
