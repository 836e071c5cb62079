//! `salus`: the Salus clinic API.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use salus::clock::SystemClock;
use salus::config::{self, Config, ConfigProblems};
use salus::{database, serve, telemetry};

/// Salus: a JSON REST API for clinics that hold health data.
#[derive(Debug, Parser)]
#[command(name = "salus", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API. Refuses to start on an invalid configuration, on pending
    /// migrations and, in staging/production, on an over-privileged database role.
    Serve,
    /// Apply pending database migrations as the owner role (MIGRATION_DATABASE_URL).
    /// Safe to run again: it does nothing when the schema is up to date.
    Migrate,
    /// Print the OpenAPI 3.1 document generated from the code.
    Openapi,
    /// Validate the configuration and print every problem found (in staging and
    /// production, also the database role's privileges and pending migrations).
    CheckConfig,
    /// Create synthetic demo clinics, staff, patients and appointments, and print
    /// the demo logins (development and test only; refused in staging/production).
    SeedDev {
        /// Demo clinics to create.
        #[arg(long, default_value_t = 2)]
        clinics: usize,
        /// Patients per clinic.
        #[arg(long, default_value_t = 40)]
        patients: usize,
        /// Where the demo logins are written (and read back on later runs).
        #[arg(long, default_value = ".local/demo-logins.txt")]
        logins_file: std::path::PathBuf,
    },
    /// Operator commands on clinics.
    Clinic {
        #[command(subcommand)]
        command: ClinicCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ClinicCommand {
    /// Set a clinic's plan (free, pro or business). Billing is outside Salus.
    SetPlan {
        /// The clinic's id.
        clinic_id: uuid::Uuid,
        /// free, pro or business.
        plan: String,
    },
}

fn report_config(problems: &ConfigProblems) -> ExitCode {
    eprintln!("salus: invalid configuration: {problems}");
    ExitCode::from(2)
}

fn report(error: &anyhow::Error) -> ExitCode {
    eprintln!("salus: {error:#}");
    ExitCode::FAILURE
}

async fn serve() -> ExitCode {
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    telemetry::init(config.log_format);
    let server = match serve::start(&config, Arc::new(SystemClock)).await {
        Ok(server) => server,
        Err(error) => return report(&error),
    };
    println!("Salus is serving at {}", server.public_url);
    match server.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}

fn migrate() -> ExitCode {
    let source = config::process_env();
    let url = match config::read_secret(&source, "MIGRATION_DATABASE_URL") {
        Ok(Some(url)) => url,
        Ok(None) => {
            return report_config(&ConfigProblems(vec![
                "MIGRATION_DATABASE_URL is missing (set it or MIGRATION_DATABASE_URL_FILE)"
                    .to_owned(),
            ]));
        }
        Err(problems) => return report_config(&problems),
    };
    match database::migrate(&url) {
        Ok(applied) if applied.is_empty() => {
            println!("salus: the schema is up to date");
            ExitCode::SUCCESS
        }
        Ok(applied) => {
            println!(
                "salus: applied {} migration(s): {}",
                applied.len(),
                applied.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

fn check_config() -> ExitCode {
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    if config.app_env.is_deployed() {
        let pool = salus_persistence::build_pool(
            &config.database_url,
            salus_persistence::PoolSettings {
                max_size: 1,
                statement_timeout_ms: config.db_statement_timeout_ms,
                checkout_timeout: std::time::Duration::from_millis(config.db_checkout_timeout_ms),
            },
        );
        if let Err(error) = database::check_serving_database(&pool, true) {
            return report(&error);
        }
    }
    println!(
        "salus: configuration OK (APP_ENV={})",
        config.app_env.as_str()
    );
    ExitCode::SUCCESS
}

fn seed_dev(clinics: usize, patients: usize, logins_file: &std::path::Path) -> ExitCode {
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    if config.app_env.is_deployed() {
        eprintln!(
            "salus: seed-dev creates synthetic data for development only; refused with APP_ENV={}",
            config.app_env.as_str()
        );
        return ExitCode::from(2);
    }
    match salus::seed::seed(&config, clinics, patients, logins_file) {
        Ok(logins) => {
            print!("{logins}");
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

fn set_plan(clinic_id: uuid::Uuid, plan: &str) -> ExitCode {
    let Some(plan) = salus_domain::plans::Plan::parse(plan) else {
        eprintln!("salus: the plan must be free, pro or business");
        return ExitCode::from(2);
    };
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    match salus::operator::set_plan(&config, salus_domain::ids::ClinicId(clinic_id), plan) {
        Ok(()) => {
            println!(
                "salus: clinic {clinic_id} is now on the {} plan",
                plan.as_str()
            );
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve => serve().await,
        Command::Migrate => migrate(),
        Command::Openapi => {
            print!("{}", salus_http::openapi_json());
            ExitCode::SUCCESS
        }
        Command::CheckConfig => check_config(),
        Command::Clinic {
            command: ClinicCommand::SetPlan { clinic_id, plan },
        } => set_plan(clinic_id, &plan),
        Command::SeedDev {
            clinics,
            patients,
            logins_file,
        } => seed_dev(clinics, patients, &logins_file),
    }
}
