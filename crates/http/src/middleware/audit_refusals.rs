//! Records, in the audit trail, every request a signed-in member was refused
//! (403, with the missing permission) and every 404 on a route that names a record
//! by id (repeated ones are how probing for other clinics' ids shows).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, web};
use salus_domain::audit::service::Answered;

use crate::auth::client::Client;
use crate::auth::principal::ResolvedActor;
use crate::problem::Refusal;
use crate::state::Ports;

/// The middleware function.
pub async fn record_refusals(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let res = next.call(req).await?;
    let status = res.status();
    if status != StatusCode::FORBIDDEN && status != StatusCode::NOT_FOUND {
        return Ok(res);
    }
    let request = res.request();
    let Some(actor) = request
        .extensions()
        .get::<ResolvedActor>()
        .and_then(|r| r.get().cloned())
    else {
        return Ok(res);
    };
    let Some(route) = request.match_pattern() else {
        return Ok(res);
    };
    let refusal = res.response().extensions().get::<Refusal>().copied();
    if status == StatusCode::NOT_FOUND && !route.contains('{') {
        return Ok(res);
    }
    let Some(ports) = request.app_data::<web::Data<Ports>>().cloned() else {
        return Ok(res);
    };
    let client = Client::extract(request).await?.0;
    let method = request.method().as_str().to_owned();
    let recorded = ports
        .call(move |services| {
            let answered = Answered {
                method: &method,
                route: &route,
            };
            match refusal {
                Some(r) => services
                    .audit
                    .record_refusal(&actor, r.code, r.missing, answered, &client),
                None if status == StatusCode::NOT_FOUND => {
                    services.audit.record_not_found(&actor, answered, &client)
                }
                None => Ok(()),
            }
        })
        .await;
    if let Err(e) = recorded {
        tracing::error!(error = %e, "could not record a refused request in the audit trail");
    }
    Ok(res)
}
