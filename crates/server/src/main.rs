use std::process::ExitCode;

use clap::Parser;

#[actix_web::main]
async fn main() -> ExitCode {
    // `arca import …` is a client of two running servers, with flags of its own.
    if std::env::args_os().nth(1).is_some_and(|a| a == "import") {
        let filter = std::env::var("ARCA_LOG").unwrap_or_else(|_| "warn".to_owned());
        arca_server::init_logging(arca_server::config::LogFormat::Human, &filter);
        return arca_import::main_from_args(std::env::args_os().skip(1)).await;
    }
    let settings = match arca_server::Config::parse()
        .with_file()
        .and_then(|c| c.resolve())
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("arca: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    arca_server::init_logging(settings.log_format, &settings.log);
    let listener = match std::net::TcpListener::bind(settings.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("arca: listen: cannot bind {}: {e}", settings.listen);
            return ExitCode::from(2);
        }
    };
    let mut running = match arca_server::start(settings, listener).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("arca: {e:#}");
            return ExitCode::from(1);
        }
    };
    // actix stops on SIGTERM/SIGINT, letting in-flight requests finish within the timeout.
    match (&mut running.server).await {
        Ok(()) => {
            running.finish().await;
            tracing::info!("arca stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("arca: {e}");
            ExitCode::from(1)
        }
    }
}
