//! The platform operator as an extractor: every `/api/v1/platform/...`
//! operation but enrolment and sign-in takes it. It reads the operator's bearer
//! token (`salus_op_...`) and checks its session on every request; a member's
//! access token is refused here as an operator's is on a member's route.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use salus_domain::platform::OperatorActor;

use crate::auth::extractor::bearer;
use crate::problem::ApiError;
use crate::state::Ports;

/// A signed-in operator.
#[derive(Debug, Clone)]
pub struct Operator(pub OperatorActor);

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ports = req
                .app_data::<web::Data<Ports>>()
                .cloned()
                .ok_or_else(|| ApiError::internal("ports missing"))?;
            let token = bearer(&req).ok_or(ApiError::Unauthenticated)?;
            let actor = ports
                .call(move |services| services.platform.authenticate(&token))
                .await?;
            Ok(Self(actor))
        })
    }
}
