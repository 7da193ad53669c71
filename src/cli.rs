//! The command line: `serve`, `users`, `org`, `tokens`, `import`, `sample`.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::app::{AppState, serve, shutdown_signal};
use crate::config::{Config, ConfigArgs};
use crate::domain::org::Person;
use crate::store::tokens;

#[derive(Parser)]
#[command(
    name = "callgrade",
    version,
    about = "Call-recording quality assurance for contact centers"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the web service.
    Serve {
        #[arg(long, env = "CALLGRADE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Fill an empty database with a demo organisation and recordings.
        #[arg(long)]
        demo: bool,
    },
    /// Manage people one by one.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// The organisation as a whole.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// API tokens for call recorders.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Bulk import: DIR/recordings.csv plus the audio files beside it.
    Import { dir: PathBuf },
    /// Sampling plans: draw now, or check a draw.
    Sample {
        #[command(subcommand)]
        command: SampleCommand,
    },
    /// Imported components of the overall monthly score.
    Components {
        #[command(subcommand)]
        command: ComponentsCommand,
    },
    /// Monthly scores.
    Scores {
        #[command(subcommand)]
        command: ScoresCommand,
    },
    /// Remove upload temp files and stored bytes no recording refers to, older than a day
    /// (the server also does it every few hours).
    Sweep,
}

#[derive(Subcommand)]
pub enum ComponentsCommand {
    /// Import FILE.csv with the header agent,month,component,points (all or nothing); the
    /// published months it touches are recomputed.
    Import { file: PathBuf },
}

#[derive(Subcommand)]
pub enum ScoresCommand {
    /// Compute a month (YYYY-MM) now, as a new version of its scores.
    Recompute { month: String },
}

#[derive(Subcommand)]
pub enum SampleCommand {
    /// Run the draw of a plan now (the server also does it in the background).
    Draw {
        /// The plan's id (see GET /api/plans).
        plan: i64,
    },
    /// Re-derive a plan's frozen weeks from the seed and the eligible calls and compare
    /// with the stored sample; exits 0 only when they are equal.
    Verify {
        plan: i64,
        /// Check with this seed (64 hex digits, e.g. the one revealed after publication)
        /// instead of the stored one.
        #[arg(long)]
        seed: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Add a person; the password is read from the first line of standard input.
    Add {
        username: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        team: Option<String>,
        /// Display name (defaults to the username).
        #[arg(long)]
        name: Option<String>,
        /// YYYY-MM-DD; new hires get extra attention in sampling.
        #[arg(long)]
        hire_date: Option<String>,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Import `username,name,role,team,hire_date[,password]`; re-importing changes nothing.
    Import { roster: PathBuf },
}

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Create a token and print it (it is shown only once).
    Create {
        name: String,
        /// The token stops working this many days from now (default: until revoked).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_days: Option<u32>,
    },
    /// List the tokens: name, created, expiry, revoked (never the tokens themselves).
    List,
    /// Revoke a token: recorders using it are refused from now on.
    Revoke { name: String },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_args(&cli.config)?;
    match cli.command {
        Command::Serve { listen, demo } => {
            let state = AppState::open(config).await?;
            if demo {
                crate::demo::seed(&state).await?;
            }
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            let addr = listener.local_addr()?;
            println!("callgrade listening on http://{addr}/");
            tracing::info!(%addr, config = ?state.config, "serving");
            serve(listener, state, shutdown_signal()).await
        }
        Command::Users {
            command:
                UsersCommand::Add {
                    username,
                    role,
                    team,
                    name,
                    hire_date,
                    password_stdin: _,
                },
        } => {
            let person = Person::new(
                &username,
                name.as_deref().unwrap_or(""),
                &role,
                team.as_deref().unwrap_or(""),
                hire_date.as_deref().unwrap_or(""),
            )
            .map_err(anyhow::Error::msg)?;
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let state = AppState::open(config).await?;
            crate::org::add_user(&state.db, &person, password).await?;
            println!("added {} ({})", person.username.as_str(), person.role);
            state.db.close().await;
            Ok(())
        }
        Command::Org {
            command: OrgCommand::Import { roster },
        } => {
            let file = std::fs::File::open(&roster)
                .with_context(|| format!("opening {}", roster.display()))?;
            let people = crate::org::parse_roster(file)?;
            let state = AppState::open(config).await?;
            let report = crate::org::import_roster(&state.db, &people).await?;
            println!(
                "roster: {} created, {} updated, {} unchanged",
                report.created, report.updated, report.unchanged
            );
            state.db.close().await;
            Ok(())
        }
        Command::Tokens { command } => {
            let state = AppState::open(config).await?;
            let result = tokens_command(&state, command).await;
            state.db.close().await;
            result
        }
        Command::Sweep => {
            let state = AppState::open(config).await?;
            let swept = crate::sweep::sweep(
                &state.db,
                state.ingestor.blobs.clone(),
                std::time::SystemTime::now(),
            )
            .await;
            state.db.close().await;
            let swept = swept?;
            println!(
                "removed {} temporary upload files, {} orphan blobs",
                swept.temp_files, swept.orphan_blobs
            );
            Ok(())
        }
        Command::Sample { command } => {
            let state = AppState::open(config).await?;
            let result = sample(&state, command).await;
            state.db.close().await;
            result
        }
        Command::Components {
            command: ComponentsCommand::Import { file },
        } => {
            let state = AppState::open(config).await?;
            let result = import_components(&state, &file).await;
            state.db.close().await;
            result
        }
        Command::Scores {
            command: ScoresCommand::Recompute { month },
        } => {
            let month: crate::domain::month::Month =
                month.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            let state = AppState::open(config).await?;
            let now = state.config.clock.now_ms();
            let result = crate::scoring::recompute(
                &state.db,
                month,
                crate::scoring::Cause::Manual,
                None,
                None,
                now,
            )
            .await;
            state.db.close().await;
            println!("computed {month}: version {}", result?);
            Ok(())
        }
        Command::Import { dir } => {
            let workers = config.decode_workers;
            let state = AppState::open(config).await?;
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let summary =
                crate::import::import_dir(&state.ingestor, &dir, workers, progress).await?;
            summary.print();
            state.db.close().await;
            Ok(())
        }
    }
}

async fn import_components(state: &AppState, file: &std::path::Path) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let now = state.config.clock.now_ms();
    let report = crate::scoring::import_components(&state.db, &bytes, None, now).await?;
    if !report.errors.is_empty() {
        for e in &report.errors {
            eprintln!("{e}");
        }
        anyhow::bail!("nothing imported: {} problem(s)", report.errors.len());
    }
    let recomputed = crate::scoring::recompute_published(
        &state.db,
        &report.months,
        crate::scoring::Cause::ComponentsImported,
        None,
        now,
    )
    .await?;
    println!(
        "imported {} values for {}; recomputed {}",
        report.imported,
        report.months.join(", "),
        if recomputed.is_empty() {
            "nothing (no published month)".to_string()
        } else {
            recomputed.join(", ")
        }
    );
    Ok(())
}

async fn sample(state: &AppState, command: SampleCommand) -> anyhow::Result<()> {
    let now = state.config.clock.now_ms();
    match command {
        SampleCommand::Draw { plan } => {
            let report = crate::sampling::draw(&state.db, plan, now).await?;
            println!(
                "plan {plan}: froze weeks {:?}, {} samples assigned, {} provisional picks{}",
                report.frozen.iter().map(|w| w + 1).collect::<Vec<_>>(),
                report.assigned,
                report.provisional,
                if report.settled { ", settled" } else { "" }
            );
            Ok(())
        }
        SampleCommand::Verify { plan, seed } => {
            let seed = seed
                .map(|s| crate::domain::sampling::parse_seed(&s))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let report = crate::sampling::verify(&state.db, plan, seed).await?;
            for p in &report.problems {
                println!("MISMATCH {p}");
            }
            println!(
                "plan {plan}: {} weeks, {} agents, {} stored samples checked: {}",
                report.strata_checked,
                report.agents_checked,
                report.samples_checked,
                if report.ok {
                    "the stored sample is the one the seed gives"
                } else {
                    "DOES NOT MATCH"
                }
            );
            if report.ok {
                Ok(())
            } else {
                anyhow::bail!("verification failed")
            }
        }
    }
}

async fn tokens_command(state: &AppState, command: TokensCommand) -> anyhow::Result<()> {
    let tz = state.config.time_zone;
    let when = |ms: Option<i64>| {
        ms.map_or_else(
            || "-".to_string(),
            |ms| crate::publication::local_text(ms, tz),
        )
    };
    match command {
        TokensCommand::Create { name, expires_days } => {
            let expires = expires_days.map(|d| crate::store::now_ms() + i64::from(d) * 86_400_000);
            let token = tokens::create_expiring(&state.db, &name, expires, None).await?;
            println!("{token}");
        }
        TokensCommand::List => {
            println!("name\tcreated\texpires\trevoked");
            for t in tokens::list(&state.db).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    t.name,
                    when(Some(t.created_at_ms)),
                    when(t.expires_at_ms),
                    when(t.revoked_at_ms)
                );
            }
        }
        TokensCommand::Revoke { name } => {
            if !tokens::revoke(&state.db, &name, crate::store::now_ms()).await? {
                anyhow::bail!("there is no token named {name:?}");
            }
            println!("revoked {name}");
        }
    }
    Ok(())
}
