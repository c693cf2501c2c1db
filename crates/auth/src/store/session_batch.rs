//! Session lookups, batched: concurrent requests for sessions share one query
//! (`where token in (...)`) instead of one query each.
//!
//! Why: on PostgreSQL the get-session hot path is bound by the database's per-query CPU, not
//! by ours. Under load, requests that arrive while a lookup query is running wait for the
//! next query and are answered together; at low load every request still gets its own query
//! at once. Each request is answered from a query that *started after it arrived*, so a
//! sign-out committed before a request is always seen by it: nothing is cached.

use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Lookup queries sent to the database so far (for tests and metrics).
    queries_sent: AtomicUsize,
}

#[derive(Default)]
struct Waiting {
    requests: Vec<(String, Reply)>,
    running_queries: usize,
}

impl Store {
    /// The session with this token and its user (the get-session hot path).
    pub(super) async fn find_session_with_user(
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
            self.spawn_driver();
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

    /// Starts a task that answers waiting lookups; the caller has counted it in
    /// `running_queries`. Spawned, so that a client hanging up cannot strand the requests
    /// it carries.
    fn spawn_driver(&self) {
        let store = self.clone();
        tokio::spawn(async move { store.answer_waiting_lookups().await });
    }

    /// Runs lookup queries until no request is waiting.
    async fn answer_waiting_lookups(&self) {
        let mut running = RunningQuery {
            store: self,
            counted: true,
        };
        loop {
            let batch: Vec<(String, Reply)> = {
                let Ok(mut waiting) = self.lock_batcher() else {
                    return;
                };
                if waiting.requests.is_empty() {
                    // Under the same lock as the push: a request either sees this query
                    // running and is taken by its next round, or starts its own.
                    waiting.running_queries -= 1;
                    running.counted = false;
                    return;
                }
                let n = waiting.requests.len().min(MAX_BATCH);
                waiting.requests.drain(..n).collect()
            };
            let mut tokens: Vec<&str> = batch.iter().map(|(t, _)| t.as_str()).collect();
            tokens.sort_unstable();
            tokens.dedup();
            self.session_batcher
                .queries_sent
                .fetch_add(1, Ordering::Relaxed);
            match self.session_rows().find_with_users(&tokens).await {
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

/// Keeps `running_queries` right when a driver ends without finishing its loop (its task was
/// cancelled at runtime shutdown, or a query panicked): without it, four such losses would
/// leave every later lookup waiting for a query that never runs.
struct RunningQuery<'a> {
    store: &'a Store,
    counted: bool,
}

impl Drop for RunningQuery<'_> {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let Ok(mut waiting) = self.store.lock_batcher() else {
            return;
        };
        waiting.running_queries -= 1;
        // Requests that arrived while this driver ran expected it to take them: if no other
        // driver is left, start one (when the runtime is still there to run it).
        let stranded = waiting.running_queries == 0 && !waiting.requests.is_empty();
        if stranded && tokio::runtime::Handle::try_current().is_ok() {
            waiting.running_queries += 1;
            drop(waiting);
            self.store.spawn_driver();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use migration::{Migrator, MigratorTrait};
    use sea_orm::TransactionTrait;

    use super::*;

    async fn store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let db = crate::store::connect(&url).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        Store::new(db).await.unwrap()
    }

    fn running_queries(store: &Store) -> usize {
        store.lock_batcher().unwrap().running_queries
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_driver_does_not_leave_lookups_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        // Every pooled connection taken, so that a driver's query waits for one.
        let mut held = Vec::new();
        while let Ok(tx) =
            tokio::time::timeout(Duration::from_millis(200), store.connection().begin()).await
        {
            held.push(tx.unwrap());
        }
        // More lost drivers than MAX_RUNNING_QUERIES: each is cancelled while its query waits.
        for _ in 0..MAX_RUNNING_QUERIES + 2 {
            let (reply, answer) = oneshot::channel();
            {
                let mut waiting = store.lock_batcher().unwrap();
                waiting.requests.push(("no-such-token".into(), reply));
                waiting.running_queries += 1;
            }
            let driver = store.answer_waiting_lookups();
            // Polled until it waits for the database, then dropped.
            let cancelled = tokio::time::timeout(Duration::from_millis(50), driver).await;
            assert!(cancelled.is_err(), "the driver was still waiting");
            assert!(answer.await.is_err(), "the cancelled batch is not answered");
            assert_eq!(running_queries(&store), 0);
        }
        drop(held);
        let found = tokio::time::timeout(
            Duration::from_secs(10),
            store.find_session_with_user("no-such-token"),
        )
        .await
        .expect("a lookup after lost drivers still runs");
        assert!(found.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lookups_waiting_together_share_one_query() {
        use sea_orm::ConnectionTrait;
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let now = "2026-01-01T00:00:00.000Z";
        let later = "2999-01-01T00:00:00.000Z";
        let db = store.connection();
        for i in 0..3 {
            db.execute_unprepared(&format!(
                r#"insert into "user" ("id","name","email","emailVerified","createdAt","updatedAt")
                   values ('u{i}','User {i}','u{i}@example.com',0,'{now}','{now}');
                   insert into "session" ("id","expiresAt","token","createdAt","updatedAt","userId")
                   values ('s{i}','{later}','token-{i}','{now}','{now}','u{i}')"#
            ))
            .await
            .unwrap();
        }
        // Every query slot busy: the lookups below queue up without starting a query.
        store.lock_batcher().unwrap().running_queries = MAX_RUNNING_QUERIES;
        let tokens: Vec<String> = (0..20).map(|i| format!("token-{}", i % 4)).collect();
        let lookups: Vec<_> = tokens
            .iter()
            .map(|t| {
                let (store, t) = (store.clone(), t.clone());
                tokio::spawn(async move { store.find_session_with_user(&t).await })
            })
            .collect();
        while store.lock_batcher().unwrap().requests.len() < tokens.len() {
            tokio::task::yield_now().await;
        }
        let sent_before = store.session_batcher.queries_sent.load(Ordering::Relaxed);
        // One slot frees up: its driver takes all twenty requests in one query.
        store.lock_batcher().unwrap().running_queries = 1;
        store.answer_waiting_lookups().await;
        let sent = store.session_batcher.queries_sent.load(Ordering::Relaxed) - sent_before;
        assert_eq!(sent, 1, "twenty waiting lookups, one query");
        for (token, lookup) in tokens.iter().zip(lookups) {
            let found = lookup.await.unwrap().unwrap();
            match found {
                Some(s) => {
                    assert_eq!(&s.session.token, token);
                    assert_eq!(s.user.id, format!("u{}", &token["token-".len()..]));
                }
                None => assert_eq!(token, "token-3", "only token-3 has no session"),
            }
        }
        assert_eq!(running_queries(&store), 0);
    }
}
