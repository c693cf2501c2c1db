//! Rate-limit counters in Better Auth's `rateLimit` table (`storage = "database"`), shared
//! by every process on the database.

use sea_orm::{ConnectionTrait, DbErr};

use crate::crypto::random;

table_view! {
    /// The `rateLimit` table (`storage = "database"`).
    pub struct RateLimits; rate_limits
}

/// A counter after this request: `count` above the limit means the request was refused.
pub struct Counter {
    pub count: i64,
    pub last_request_ms: i64,
}

impl RateLimits<'_> {
    /// Counts one request for `key` in one statement, so that concurrent requests on several
    /// replicas cannot both take the last slot (upstream reads, then writes). The rule is
    /// upstream's: a window that has passed starts again at 1; a full window refuses without
    /// moving `lastRequest`. A refused request stores `max + 1`, which upstream reads as full
    /// too, and which tells us it was refused.
    pub async fn count(
        &self,
        key: &str,
        now_ms: i64,
        window_ms: i64,
        max: i64,
    ) -> Result<Counter, DbErr> {
        let sql = r#"insert into "rateLimit" ("id", "key", "count", "lastRequest") values ($1, $2, 1, $3)
            on conflict ("key") do update set
              "count" = case when $3 - "rateLimit"."lastRequest" >= $4 then 1
                             when "rateLimit"."count" >= $5 then $5 + 1
                             else "rateLimit"."count" + 1 end,
              "lastRequest" = case when $3 - "rateLimit"."lastRequest" >= $4 then $3
                                   when "rateLimit"."count" >= $5 then "rateLimit"."lastRequest"
                                   else $3 end
            returning cast("count" as bigint) as "count", "lastRequest""#;
        let row = self
            .connection()
            .query_one_raw(self.stmt(
                sql,
                vec![
                    random::id().into(),
                    key.into(),
                    now_ms.into(),
                    window_ms.into(),
                    max.into(),
                ],
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("rateLimit upsert returned no row".into()))?;
        Ok(Counter {
            count: row.try_get::<i64>("", "count")?,
            last_request_ms: row.try_get::<i64>("", "lastRequest")?,
        })
    }
}
