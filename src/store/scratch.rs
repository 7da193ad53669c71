//! Throw-away PostgreSQL databases for the integration suite and the benchmarks: each run
//! gets a database of its own on the given server, dropped again when the value is dropped
//! (also when a test fails).

use anyhow::Context;
use sqlx::Connection;

pub struct ScratchPostgres {
    server_url: String,
    name: String,
    /// URL of the new database.
    pub url: String,
}

impl ScratchPostgres {
    /// `server_url` names any database on the server (e.g. `postgres://postgres@host/test`);
    /// the scratch database is created beside it.
    pub async fn create(server_url: &str, prefix: &str) -> anyhow::Result<ScratchPostgres> {
        let name = format!("{prefix}_{}", hex::encode(rand::random::<[u8; 6]>()));
        let mut conn = sqlx::PgConnection::connect(server_url)
            .await
            .context("connecting to PostgreSQL")?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
        conn.close().await?;
        let base = server_url.rsplit_once('/').map_or(server_url, |(b, _)| b);
        Ok(ScratchPostgres {
            url: format!("{base}/{name}"),
            server_url: server_url.to_string(),
            name,
        })
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        let (server, name) = (self.server_url.clone(), self.name.clone());
        // Drop may run inside an async runtime; a plain thread gets a runtime of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&server).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}
