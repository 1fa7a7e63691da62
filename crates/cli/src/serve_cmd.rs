//! `icsrange serve` (the training platform), `icsrange demo` (the platform with one run of
//! Ukraine 2015 started, on an embedded database) and `icsrange admin create`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use crate::BadInput;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A TOML file with any of: bind, data, database, first_block, devices, tls_cert,
    /// tls_key, header_timeout, client_connections, trusted_proxy, runs_per_instructor,
    /// teams_per_run, blocks_per_instructor. Command-line options and ICSRANGE_* variables take precedence over it.
    #[arg(long, env = "ICSRANGE_CONFIG")]
    config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ICSRANGE_BIND")]
    bind: Option<SocketAddr>,
    /// Data directory: the SQLite database (unless --database) and the teams' captures
    /// [default: ./icsrange-data].
    #[arg(long, env = "ICSRANGE_DATA")]
    data: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST:PORT/DB [default: an SQLite file
    /// in the data directory].
    #[arg(long, env = "ICSRANGE_DATABASE")]
    database: Option<String>,
    /// Team ranges get the address blocks 127.N.0.0 from this N up [default: 10].
    #[arg(long, env = "ICSRANGE_FIRST_BLOCK")]
    first_block: Option<u8>,
    /// Whether team ranges' device services listen on real loopback sockets (true/false)
    /// [default: false]. Caveat: loopback is shared by every local process, so any program
    /// on this machine reaches every team's devices and may use any source address in
    /// 127.0.0.0/8 (posing as a team's SCADA master); turn it on only on a machine whose
    /// users are the course's, until trainees have their own way into their range.
    #[arg(long, env = "ICSRANGE_DEVICES")]
    devices: Option<bool>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key. Cookies are then
    /// marked Secure.
    #[arg(long, env = "ICSRANGE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "ICSRANGE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// How long a client may take to send a request's headers before its connection is
    /// closed (slow-loris): seconds, or a duration such as 500ms, 30s, 2m [default: 30s].
    #[arg(long, env = "ICSRANGE_HEADER_TIMEOUT", value_parser = header_timeout)]
    header_timeout: Option<Duration>,
    /// Connections one client address may hold on the web server at once (an organisation
    /// behind one NAT counts as one) [default: 256].
    #[arg(long, env = "ICSRANGE_CLIENT_CONNECTIONS")]
    client_connections: Option<usize>,
    /// The address of a reverse proxy (a TLS terminator) in front of the server: its
    /// connections carry everyone's, and its X-Forwarded-For names the client for the
    /// sign-in limits. Without it X-Forwarded-For is ignored.
    #[arg(long, env = "ICSRANGE_TRUSTED_PROXY")]
    trusted_proxy: Option<std::net::IpAddr>,
    /// Runs not yet ended that one instructor may have created [default: 10].
    #[arg(long, env = "ICSRANGE_RUNS_PER_INSTRUCTOR")]
    runs_per_instructor: Option<usize>,
    /// Teams in one run at most [default: 40].
    #[arg(long, env = "ICSRANGE_TEAMS_PER_RUN")]
    teams_per_run: Option<usize>,
    /// Address blocks the teams of one instructor's runs may hold at once (of about 240)
    /// [default: 80].
    #[arg(long, env = "ICSRANGE_BLOCKS_PER_INSTRUCTOR")]
    blocks_per_instructor: Option<usize>,
}

/// `--header-timeout`: the duration grammar of the command line, more than 0, at most an hour.
fn header_timeout(text: &str) -> Result<Duration, String> {
    let t = gridsim::sim::SimTime::parse_duration(text).map_err(|e| e.to_string())?;
    if t.0 == 0 || t.0 > 3_600_000_000 {
        return Err(format!("`{}`: more than 0, at most 1h", text.trim()));
    }
    Ok(Duration::from_micros(t.0))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<SocketAddr>,
    data: Option<PathBuf>,
    database: Option<String>,
    first_block: Option<u8>,
    devices: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    /// As `--header-timeout`: "30s", "500ms", "2" (seconds).
    header_timeout: Option<String>,
    client_connections: Option<usize>,
    trusted_proxy: Option<std::net::IpAddr>,
    runs_per_instructor: Option<usize>,
    teams_per_run: Option<usize>,
    blocks_per_instructor: Option<usize>,
}

fn config(args: &ServeArgs, default_data: &str) -> anyhow::Result<web::Config> {
    let file: FileConfig = match &args.config {
        Some(p) => {
            let text =
                netio::files::read_text(p, 1 << 20).map_err(|e| BadInput(format!("{}: {e}", p.display())))?;
            toml::from_str(&text).map_err(|e| BadInput(format!("{}: {e}", p.display())))?
        }
        None => FileConfig::default(),
    };
    let first_block = args.first_block.or(file.first_block).unwrap_or(10);
    let tls = match (args.tls_cert.clone().or(file.tls_cert), args.tls_key.clone().or(file.tls_key)) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err(BadInput("a TLS certificate needs its key, and a key its certificate".into()).into()),
    };
    if !(1..=250).contains(&first_block) {
        return Err(BadInput("--first-block: 1 to 250".into()).into());
    }
    let header_timeout = match (args.header_timeout, &file.header_timeout) {
        (Some(t), _) => t,
        (None, Some(text)) => header_timeout(text).map_err(|e| {
            let p = args.config.as_deref().unwrap_or(std::path::Path::new("config"));
            BadInput(format!("{}: header_timeout: {e}", p.display()))
        })?,
        (None, None) => web::tls::DEFAULT_HEADER_TIMEOUT,
    };
    let per_client =
        args.client_connections.or(file.client_connections).unwrap_or(web::tls::DEFAULT_PER_CLIENT);
    let quotas = web::Quotas {
        runs_per_instructor: args
            .runs_per_instructor
            .or(file.runs_per_instructor)
            .unwrap_or(web::Quotas::default().runs_per_instructor),
        teams_per_run: args
            .teams_per_run
            .or(file.teams_per_run)
            .unwrap_or(web::Quotas::default().teams_per_run),
        blocks_per_instructor: args
            .blocks_per_instructor
            .or(file.blocks_per_instructor)
            .unwrap_or(web::Quotas::default().blocks_per_instructor),
    };
    if per_client == 0
        || quotas.runs_per_instructor == 0
        || quotas.teams_per_run == 0
        || quotas.blocks_per_instructor == 0
    {
        return Err(BadInput(
            "client_connections, runs_per_instructor, teams_per_run and blocks_per_instructor: at least 1"
                .into(),
        )
        .into());
    }
    Ok(web::Config {
        bind: args.bind.or(file.bind).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        data_dir: args.data.clone().or(file.data).unwrap_or_else(|| PathBuf::from(default_data)),
        database_url: args.database.clone().or(file.database),
        listen_devices: args.devices.or(file.devices).unwrap_or(false),
        first_block,
        secure_cookies: tls.is_some(),
        tls,
        limits: web::tls::Limits {
            header_timeout,
            per_client,
            trusted_proxy: args.trusted_proxy.or(file.trusted_proxy),
        },
        quotas,
    })
}

async fn stop_signal() {
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// The server's runtime. Ranges step on the blocking pool (a power flow never runs on an async
/// worker), so the pool is kept to a few threads per core: a step is short, and every thread
/// that allocates costs the process an allocator arena (with tokio's default of 512 threads,
/// 50 teams doubled the server's resident memory). Long jobs there are bounded (two password
/// checks, `web::auth`; two exercise loads or reports, `web::platform::HEAVY_SLOTS`), so steps
/// always find at least half the pool free.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Ok(tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads((4 * cores).max(8))
        .enable_all()
        .build()?)
}

pub fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let cfg = config(args, "icsrange-data")?;
    crate::init_log();
    runtime()?.block_on(async {
        // The certificate is checked before anything else starts.
        let acceptor = match &cfg.tls {
            Some((cert, key)) => Some(web::tls::acceptor(cert, key).map_err(|e| BadInput(e.to_string()))?),
            None => None,
        };
        let app = web::open(&cfg).await.map_err(|e| BadInput(e.to_string()))?;
        let listener = tokio::net::TcpListener::bind(cfg.bind)
            .await
            .map_err(|e| BadInput(format!("{}: {e}", cfg.bind)))?;
        let local = listener.local_addr()?;
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        out!(
            "icsrange serving on {scheme}://{local}/ (data {}, {:?})",
            cfg.data_dir.display(),
            app.store.kind
        );
        out!("ready");
        match acceptor {
            Some(a) => web::serve_tls(app, listener, a, stop_signal()).await?,
            None => web::serve(app, listener, stop_signal()).await?,
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Data directory (an SQLite database is made in it).
    #[arg(long, default_value = "icsrange-demo")]
    data: PathBuf,
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// A factor of real time for the run [default: the exercise's `time_compression`].
    #[arg(long)]
    speed: Option<f64>,
    /// Team ranges get the address blocks 127.N.0.0 from this N up.
    #[arg(long, default_value_t = 10)]
    first_block: u8,
}

pub fn demo(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    if args.speed.is_some_and(|s| !(0.1..=600.0).contains(&s)) {
        return Err(BadInput("--speed: 0.1 to 600".into()).into());
    }
    let cfg = web::Config {
        bind: args.bind,
        data_dir: args.data.clone(),
        database_url: None,
        listen_devices: true,
        first_block: args.first_block,
        secure_cookies: false,
        tls: None,
        limits: web::tls::Limits::default(),
        quotas: web::Quotas::default(),
    };
    crate::init_log();
    runtime()?.block_on(async {
        let app = web::open(&cfg).await.map_err(|e| BadInput(e.to_string()))?;
        let listener = tokio::net::TcpListener::bind(cfg.bind)
            .await
            .map_err(|e| BadInput(format!("{}: {e}", cfg.bind)))?;
        let local = listener.local_addr()?;
        let demo = web::admin::demo(&app, args.speed).await.map_err(|e| anyhow::anyhow!(e))?;
        out!(
            "icsrange demo: Ukraine 2015, two teams, started at {}x; data in {}",
            demo.speed,
            cfg.data_dir.display()
        );
        out!("open http://{local}/ and sign in (passwords are shown once):");
        for (what, name, password, page) in &demo.accounts {
            out!("  {what:<20} {name:<14} {password}   http://{local}{page}");
        }
        out!(
            "Ctrl-C stops the server; `icsrange serve --data {} --devices true` brings the run back, paused.",
            cfg.data_dir.display()
        );
        out!("ready");
        web::serve(app, listener, stop_signal()).await?;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Create a platform administrator; the generated password is printed once.
    Create {
        name: String,
        #[command(flatten)]
        serve: ServeArgs,
    },
}

pub fn admin(cmd: &AdminCommand) -> anyhow::Result<ExitCode> {
    let AdminCommand::Create { name, serve } = cmd;
    let cfg = config(serve, "icsrange-data")?;
    runtime()?.block_on(async {
        let io = |e: std::io::Error| BadInput(format!("{}: {e}", cfg.data_dir.display()));
        std::fs::create_dir_all(&cfg.data_dir).map_err(io)?;
        web::private_dir(&cfg.data_dir).map_err(io)?;
        let url = cfg
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", cfg.data_dir.join("icsrange.db").display()));
        let store = store::Store::open(&url).await.map_err(|e| BadInput(e.to_string()))?;
        let password = web::auth::new_password();
        let user = store::User {
            id: web::auth::token(8),
            name: name.clone(),
            org: None,
            hash: web::auth::hash_password(&password),
            admin: true,
            staff: true,
            disabled: false,
        };
        store.create_user(&user, web::now_s()).await.map_err(|e| BadInput(format!("`{name}`: {e}")))?;
        for f in ["icsrange.db", "icsrange.db-wal", "icsrange.db-shm"] {
            web::private_file(&cfg.data_dir.join(f)).map_err(io)?;
        }
        out!("administrator {name}: password {password}");
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn the_header_timeout_is_a_setting_of_30_s_by_default() {
        assert_eq!(header_timeout("1"), Ok(Duration::from_secs(1)));
        assert_eq!(header_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(header_timeout("2m"), Ok(Duration::from_secs(120)));
        for bad in ["0", "0ms", "2h", "soon", "-1"] {
            assert!(header_timeout(bad).is_err(), "{bad}");
        }
        let set = Cmd::try_parse_from(["serve", "--header-timeout", "1s"]).map(|c| config(&c.serve, "d"));
        assert_eq!(
            set.ok().and_then(Result::ok).map(|c| c.limits.header_timeout),
            Some(Duration::from_secs(1))
        );
        if std::env::var_os("ICSRANGE_HEADER_TIMEOUT").is_none()
            && std::env::var_os("ICSRANGE_CONFIG").is_none()
        {
            let default = Cmd::try_parse_from(["serve"]).map(|c| config(&c.serve, "d"));
            assert_eq!(
                default.ok().and_then(Result::ok).map(|c| c.limits.header_timeout),
                Some(Duration::from_secs(30))
            );
        }
    }
}
