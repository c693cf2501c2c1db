//! A deadline for request bodies. actix bounds the time for the request head
//! (`client_request_timeout`) but not for the body: a client that sends the headers and then
//! trickles (or stops sending) the body would keep its connection and the handler waiting
//! for as long as the connection lives. Here the body must arrive in full within
//! `connections.body_timeout` of the handler starting to read it; otherwise the answer is
//! 408 and the connection is closed.
//!
//! Written by hand because neither actix-web nor a well-kept middleware crate offers a body
//! read deadline.

use std::cell::Cell;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use futures_util::StreamExt;

use crate::error::ApiError;
use crate::state::AppState;

/// Whether a request announces a body at all (GETs without one pay nothing here).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let timeout = match req.app_data::<web::Data<AppState>>() {
        Some(state) if has_body(&req) => state.config.connections.body_timeout,
        _ => return Ok(next.call(req).await?.map_into_left_body()),
    };
    let timed_out = Rc::new(Cell::new(false));
    let flag = timed_out.clone();
    let deadline = tokio::time::Instant::now() + timeout;
    let payload = req.take_payload();
    let guarded = futures_util::stream::unfold(Some(payload), move |payload| {
        let flag = flag.clone();
        async move {
            let mut payload = payload?;
            match tokio::time::timeout_at(deadline, payload.next()).await {
                Ok(Some(chunk)) => Some((chunk, Some(payload))),
                Ok(None) => None,
                Err(_) => {
                    flag.set(true);
                    let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "body timeout");
                    Some((Err(PayloadError::Io(e)), None))
                }
            }
        }
    });
    req.set_payload(Payload::Stream {
        payload: Box::pin(guarded),
    });
    let res = next.call(req).await?;
    if !timed_out.get() {
        return Ok(res.map_into_left_body());
    }
    let mut answer = ApiError::RequestTimeout.error_response();
    answer.head_mut().set_connection_type(ConnectionType::Close);
    Ok(res.into_response(answer).map_into_right_body())
}
