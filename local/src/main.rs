//! `local-gateway [serve]` runs the whole API on localhost; `local-gateway token` mints a local
//! token; `local-gateway seed` loads sample notices, banners and events.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::{Context, bail};
use local_gateway::{Gateway, Options, seed, stand_ins::Directory, token};
use shared::{
    Config,
    config::DatabaseSettings,
    store::{ChatStores, Stores, sql::SqlDb},
};

const DEFAULT_DB_PATH: &str = ".portforge/local.db";

const USAGE: &str = "usage:
  local-gateway [serve]                                   run the API on 127.0.0.1:$PORT (8004)
  local-gateway token [--user UUID] [--admin] [--name NAME] [--hours N]
                                                          print a local token (new user id if none)
  local-gateway token --service CLIENT_ID --scope SCOPE... [--hours N]
                                                          print a sibling service's client-credentials
                                                          token (e.g. --scope portforge-support/chat.read)
  local-gateway seed                                      load sample notices, banners, events, chat and
                                                          notifications; print the sample user's token
  local-gateway bootstrap [tables|database]               create (or check) the chat tables at
                                                          $DDB_ENDPOINT_URL and/or create and migrate the
                                                          MySQL database at $DATABASE_URL (both if neither
                                                          is named)
  local-gateway member --project N --user UUID [--role LEADER|MEMBER] [--title TITLE] [--remove]
                                                          set who is in a project's team (the stand-ins
                                                          for the Project and Team services)";

/// `println!` for a command whose output may be piped into a reader that stops early
/// (`local-gateway seed | head -1`): a closed pipe ends the command quietly instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => { say(format_args!($($arg)*)) };
}

fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(e) = writeln!(std::io::stdout().lock(), "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("could not write to standard output: {e}");
        std::process::exit(1);
    }
}

fn secret() -> Vec<u8> {
    std::env::var("LOCAL_JWT_SECRET").unwrap_or_else(|_| token::DEFAULT_SECRET.into()).into_bytes()
}

fn database(config: &Config) -> DatabaseSettings {
    config.database.clone().unwrap_or_else(|| DatabaseSettings::Sqlite {
        path: std::env::var_os("LOCAL_DB_PATH").map_or_else(|| PathBuf::from(DEFAULT_DB_PATH), PathBuf::from),
    })
}

fn mint(args: &[String]) -> anyhow::Result<()> {
    let (mut user, mut admin, mut name, mut hours) = (None, false, None, 12_i64);
    let (mut service, mut scopes) = (None, Vec::new());
    let mut it = args.iter().peekable();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--user" => user = it.next().cloned(),
            "--admin" => admin = true,
            "--name" => name = it.next().cloned(),
            "--hours" => hours = it.next().and_then(|h| h.parse().ok()).context("--hours takes a number")?,
            "--service" => service = Some(it.next().cloned().context("--service takes a client id")?),
            // One or more scopes, up to the next option.
            "--scope" => {
                while let Some(scope) = it.next_if(|next| !next.starts_with("--")) {
                    scopes.push(scope.clone());
                }
                if scopes.is_empty() {
                    bail!("--scope takes one or more scopes");
                }
            }
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }
    if let Some(client_id) = service {
        if user.is_some() || admin || name.is_some() {
            bail!("--service mints a sibling service's token: --user, --admin and --name do not apply");
        }
        let client_id = token::ServiceClientId::parse(&client_id).map_err(|e| anyhow::anyhow!("--service {e}"))?;
        say!("{}", token::mint(&secret(), &token::service_claims(&client_id, &scopes, hours)));
        return Ok(());
    }
    if !scopes.is_empty() {
        bail!("--scope goes with --service (users' tokens carry no scopes here)");
    }
    let user = match user {
        Some(user) => shared::domain::UserId::parse(&user).map_err(|e| anyhow::anyhow!("--user {e}"))?.to_string(),
        None => {
            let user = uuid::Uuid::new_v4().to_string();
            eprintln!("user id: {user}");
            user
        }
    };
    say!("{}", token::mint(&secret(), &token::user_claims(&user, admin, name.as_deref(), hours)));
    Ok(())
}

async fn seed_samples() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let db = Arc::new(SqlDb::connect_lazy(&database(&config), config.db_max_connections)?);
    let chat = match &config.ddb_endpoint_url {
        Some(_) => {
            let aws = shared::aws::AwsContext::new(&config)?;
            let store = shared::aws::dynamo_store(&aws, &config);
            store.create_tables().await.map_err(|e| anyhow::anyhow!("creating the chat tables: {e}"))?;
            ChatStores::dynamo(store)
        }
        None => ChatStores::sql(db.clone()),
    };
    let directory = Directory::open(db.clone()).await?;
    let seeded = seed::seed(&Stores::sql(db.clone()), &chat, &directory, config.calendar).await?;
    let mut teams = Vec::new();
    for project in [seed::SEED_PROJECT, seed::OTHER_PROJECT] {
        let id = shared::domain::ProjectId::new(project).map_err(anyhow::Error::msg)?;
        teams.push((project, directory.team_of(id).await?));
    }
    // Everything is written before anything is printed: a reader that stops early loses nothing.
    db.close().await;
    if seeded == seed::Seeded::default() {
        say!("the database already has notices; nothing seeded");
    } else {
        say!(
            "seeded {} notices, {} banners, {} events, {} chat messages in project {} and {} notifications",
            seeded.notices,
            seeded.banners,
            seeded.events,
            seeded.messages,
            seed::SEED_PROJECT,
            seeded.notifications
        );
    }
    for (project, team) in teams {
        if let Some(team) = team {
            say!("project {project}'s team is team {team} (the Team service's own id)");
        }
    }
    let claims = token::user_claims(seed::SEED_USER, false, Some(seed::SEED_USER_NAME), 12);
    say!("the sample user {} ({}), whose token is:", seed::SEED_USER_NAME, seed::SEED_USER);
    say!("{}", token::mint(&secret(), &claims));
    Ok(())
}

/// `member`: writes the stand-ins' view of a project's team.
async fn member(args: &[String]) -> anyhow::Result<()> {
    let (mut project, mut user, mut role, mut title, mut remove) = (None, None, "MEMBER".to_owned(), None, false);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--project" => project = it.next().cloned(),
            "--user" => user = it.next().cloned(),
            "--role" => role = it.next().cloned().context("--role takes LEADER or MEMBER")?.to_ascii_uppercase(),
            "--title" => title = it.next().cloned(),
            "--remove" => remove = true,
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }
    let project = shared::domain::ProjectId::parse(&project.context("--project is required")?)
        .map_err(|e| anyhow::anyhow!("--project {e}"))?;
    let user = shared::domain::UserId::parse(&user.context("--user is required")?)
        .map_err(|e| anyhow::anyhow!("--user {e}"))?;
    if !matches!(role.as_str(), "LEADER" | "MEMBER") {
        bail!("--role is LEADER or MEMBER");
    }
    let config = Config::from_env()?;
    let db = Arc::new(SqlDb::connect_lazy(&database(&config), config.db_max_connections)?);
    let directory = Directory::open(db.clone()).await?;
    if remove {
        let removed = directory.remove_member(project, &user).await?;
        say!("{}", if removed { "removed from the team" } else { "was not in the team" });
    } else {
        if let Some(title) = title {
            directory.put_project(project, &title).await?;
        } else if !directory.has_project(project).await? {
            directory.put_project(project, &format!("프로젝트 {project}")).await?;
        }
        let team = directory.put_member(project, &user, &role).await?;
        say!("{user} is a {role} of project {project}'s team (team {team})");
    }
    db.close().await;
    Ok(())
}

/// Creates the chat tables on the DynamoDB endpoint `DDB_ENDPOINT_URL` names, or checks the
/// ones there: an existing table with other keys is an error naming the difference.
async fn create_tables() -> anyhow::Result<()> {
    use shared::store::dynamo_tables::{TableOutcome, bootstrap};
    let config = Config::from_env()?;
    let Some(endpoint) = config.ddb_endpoint_url.clone() else {
        bail!("set DDB_ENDPOINT_URL to the DynamoDB endpoint to create the tables on");
    };
    let client = shared::aws::AwsContext::new(&config)?.dynamodb(Some(&endpoint));
    let outcomes = bootstrap(&client, &shared::aws::dynamo_tables(&config)).await?;
    for (table, outcome) in outcomes {
        let what = match outcome {
            TableOutcome::Created => "created",
            TableOutcome::Existing => "already there, as template.yaml declares it",
        };
        say!("{table}: {what}");
    }
    say!("chat tables ready at {endpoint}");
    Ok(())
}

/// Creates the MySQL database `DATABASE_URL` names if it is missing, then applies the
/// migrations as the deploy's migrate step does.
async fn bootstrap_database() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let Some(DatabaseSettings::MySql { url }) = config.database.clone() else {
        bail!("set DATABASE_URL=mysql://user:password@host:3306/database (the embedded file needs no bootstrap)");
    };
    let done = shared::store::sql::bootstrap_mysql(&url).await?;
    let created = if done.created { "created; " } else { "" };
    let applied = match done.migrations.applied.as_slice() {
        [] => "no migration pending".to_owned(),
        applied => format!("applied {applied:?}"),
    };
    say!("database {}: {created}{applied}; schema at {}", done.database, done.migrations.schema_version);
    Ok(())
}

/// Human-readable log lines; `RUST_LOG` tunes them (default `info`).
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

async fn serve() -> anyhow::Result<()> {
    init_logging();
    let config = Config::from_env()?;
    // 8004: where the web app's dev server proxies the API and opens its chat socket.
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8004);
    // Loopback unless asked: other machines may then reach it, so it needs a secret of its own.
    let host: std::net::IpAddr = match std::env::var("HOST") {
        Ok(host) => host.parse().with_context(|| format!("HOST={host} is not an IP address"))?,
        Err(_) => [127, 0, 0, 1].into(),
    };
    let options = Options { database: database(&config), config, secret: secret(), addr: SocketAddr::new(host, port) };
    let gateway = Gateway::start(options).await?;
    let addr = gateway.addr;
    say!("PortForge support service (local gateway)");
    say!("  HTTP API    http://{addr}              try: curl http://{addr}/health");
    say!("  WebSocket   ws://{addr}/?project_id=1&token=TOKEN   or ws://{addr}/ws/chat/1?token=TOKEN");
    say!("  bell        ws://{addr}/?notifications=true&token=TOKEN   (your notifications, no project)");
    say!("  live chat   add &live=true for presence, typing and read frames");
    say!("  token       cargo run -p local-gateway -- token [--admin]   (send as Authorization: Bearer TOKEN)");
    say!("  storage     {}", gateway.storage);
    say!("  stop        Ctrl-C");
    tokio::signal::ctrl_c().await?;
    say!("shutting down");
    gateway.stop().await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `seed` and `serve` take no options: anything after them (a `--help`, say) is refused
    // rather than ignored, so nothing is written by a command that was only asked about.
    let takes_none = matches!(args.first().map(String::as_str), Some("serve" | "seed"));
    if takes_none && let Some(extra) = args.get(1) {
        match extra.as_str() {
            "-h" | "--help" => {
                say!("{USAGE}");
                return Ok(());
            }
            other => bail!("{} takes no options, got {other}\n{USAGE}", args[0]),
        }
    }
    match args.first().map(String::as_str) {
        None | Some("serve") => serve().await,
        Some("token") => mint(&args[1..]),
        Some("seed") => seed_samples().await,
        // The name earlier releases documented.
        Some("tables") => create_tables().await,
        Some("bootstrap") => match args.get(1).map(String::as_str) {
            Some("tables") => create_tables().await,
            Some("database") => bootstrap_database().await,
            None => {
                create_tables().await?;
                bootstrap_database().await
            }
            Some(other) => bail!("bootstrap {other}: tables, database, or nothing for both\n{USAGE}"),
        },
        Some("member") => member(&args[1..]).await,
        Some("-h" | "--help" | "help") => {
            say!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other}\n{USAGE}"),
    }
}
