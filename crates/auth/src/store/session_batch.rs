//! Session lookups, batched: concurrent requests for sessions share one query
//! (`where token in (...)`) instead of one query each.
//!
//! Why: on PostgreSQL the get-session hot path is bound by the database's per-query CPU, not
//! by ours. Under load, requests that arrive while a lookup query is running wait for the
//! next query and are answered together; at low load every request still gets its own query
//! at once. Each request is answered from a query that *started after it arrived*, so a
//! sign-out committed before a request is always seen by it: nothing is cached.

use std::sync::Mutex;

use sea_orm::DbErr;
use tokio::sync::oneshot;

use super::Store;
use crate::models::SessionWithUser;

/// Lookup queries running at once (each takes whatever requests are waiting).
const MAX_RUNNING_QUERIES: usize = 4;
/// Requests answered by one query at most.
const MAX_BATCH: usize = 64;

type Reply = oneshot::Sender<Result<Option<SessionWithUser>, DbErr>>;

#[derive(Default)]
pub(super) struct SessionBatcher {
    state: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    requests: Vec<(String, Reply)>,
    running_queries: usize,
}

impl Store {
    /// The session with this token and its user (the get-session hot path).
    pub async fn find_session_with_user(
        &self,
        token: &str,
    ) -> Result<Option<SessionWithUser>, DbErr> {
        let (reply, answer) = oneshot::channel();
        let start_query = {
            let mut waiting = self.lock_batcher()?;
            waiting.requests.push((token.to_owned(), reply));
            let start = waiting.running_queries < MAX_RUNNING_QUERIES;
            if start {
                waiting.running_queries += 1;
            }
            start
        };
        if start_query {
            // Spawned, so that a client hanging up cannot strand the requests it carries.
            let store = self.clone();
            tokio::spawn(async move { store.answer_waiting_lookups().await });
        }
        answer
            .await
            .map_err(|_| DbErr::Custom("session lookup was dropped".into()))?
    }

    fn lock_batcher(&self) -> Result<std::sync::MutexGuard<'_, Waiting>, DbErr> {
        self.session_batcher
            .state
            .lock()
            .map_err(|_| DbErr::Custom("session batcher lock poisoned".into()))
    }

    /// Runs lookup queries until no request is waiting.
    async fn answer_waiting_lookups(&self) {
        loop {
            let batch: Vec<(String, Reply)> = {
                let Ok(mut waiting) = self.lock_batcher() else {
                    return;
                };
                if waiting.requests.is_empty() {
                    // Under the same lock as the push: a request either sees this query
                    // running and is taken by its next round, or starts its own.
                    waiting.running_queries -= 1;
                    return;
                }
                let n = waiting.requests.len().min(MAX_BATCH);
                waiting.requests.drain(..n).collect()
            };
            let mut tokens: Vec<&str> = batch.iter().map(|(t, _)| t.as_str()).collect();
            tokens.sort_unstable();
            tokens.dedup();
            match self.find_sessions_with_users(&tokens).await {
                Ok(found) => {
                    for (token, reply) in batch {
                        let hit = found.iter().find(|s| s.session.token == token).cloned();
                        let _ = reply.send(Ok(hit));
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    for (_, reply) in batch {
                        let _ = reply.send(Err(DbErr::Custom(message.clone())));
                    }
                }
            }
        }
    }
}
