//! The metrics listener on `METRICS_BIND`: `GET /metrics` in the Prometheus text
//! format, and nothing else. The public listeners never serve it.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, Error, HttpResponse, web};
use salus_domain::Clock;
use salus_domain::ports::incidents::overdue_deadlines;
use salus_domain::vulns::model::Tally;
use salus_http::blocking::run_blocking;
use salus_http::metrics::{CONTENT_TYPE, Metrics, Readings};
use salus_persistence::DbPool;
use salus_persistence::backup_status::backup_status;
use salus_persistence::incidents_repo::incidents_with_clinics;
use salus_persistence::outbox_repo::backlog;
use salus_persistence::vulns_repo::unresolved_vulnerabilities;

/// What a scrape reads: the server's metrics, and the database for the readings
/// taken at scrape time.
#[derive(Clone)]
pub struct Scrape {
    /// The metrics the public application records.
    pub metrics: Metrics,
    /// The API's pool.
    pub pool: DbPool,
    /// The server's clock (what "due" means for the outbox).
    pub clock: Arc<dyn Clock>,
    /// The services (the secrets' ages are read through them).
    pub services: Arc<salus_domain::services::Services>,
}

async fn metrics(scrape: web::Data<Scrape>) -> HttpResponse {
    let (pool, now) = (scrape.pool.clone(), scrape.clock.now());
    // When the database does not answer, the cause is logged by the conversion and
    // the scrape still answers, without the backlog and with `salus_database_up 0`.
    let outbox_backlog = run_blocking({
        let pool = pool.clone();
        move || backlog(&pool, now)
    })
    .await
    .ok();
    let backups = run_blocking({
        let pool = pool.clone();
        move || backup_status(&pool)
    })
    .await
    .ok();
    let incident_deadlines_overdue = run_blocking({
        let pool = pool.clone();
        move || incidents_with_clinics(&pool)
    })
    .await
    .ok()
    .map(|incidents| overdue_deadlines(&incidents, now));
    let audit_waiting = run_blocking({
        let services = scrape.services.clone();
        move || services.audit.waiting_chains()
    })
    .await
    .ok();
    let vulnerabilities = run_blocking(move || unresolved_vulnerabilities(&pool))
        .await
        .ok()
        .map(|findings| Tally::of(&findings, now));
    let services = scrape.services.clone();
    let secrets = run_blocking(move || services.secrets.ages()).await.ok();
    let readings = Readings {
        outbox_backlog,
        backups,
        vulnerabilities,
        secrets,
        incident_deadlines_overdue,
        audit_waiting,
        now,
    };
    match scrape.metrics.render(&readings) {
        Ok(text) => HttpResponse::Ok().content_type(CONTENT_TYPE).body(text),
        Err(error) => {
            tracing::error!(%error, "the metrics could not be rendered");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// The metrics application: `GET /metrics`, 404 for anything else.
pub fn build_metrics_app(
    scrape: Scrape,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(scrape))
        .route("/metrics", web::get().to(metrics))
}
