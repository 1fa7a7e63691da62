//! What teams and instructors add while a run plays: journal inputs, incident reports and
//! broadcasts.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{InputLine, Message, Report, Result, Store, conflict};

impl Store {
    // ---- journal inputs

    /// Appends journal lines (in one transaction: all or none).
    pub async fn append_inputs(&self, team: &str, lines: &[InputLine]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for l in lines {
            sqlx::query("INSERT INTO inputs (team, seq, t_us, line) VALUES ($1, $2, $3, $4)")
                .bind(team)
                .bind(l.seq)
                .bind(l.t_us)
                .bind(&l.line)
                .execute(&mut *tx)
                .await
                .map_err(conflict)?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A team's kept journal lines, in order.
    pub async fn inputs(&self, team: &str) -> Result<Vec<InputLine>> {
        let rows = sqlx::query("SELECT seq, t_us, line FROM inputs WHERE team = $1 ORDER BY seq")
            .bind(team)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(InputLine { seq: r.try_get("seq")?, t_us: r.try_get("t_us")?, line: r.try_get("line")? })
            })
            .collect()
    }

    /// Forgets a team's kept lines (a start that a crash interrupted, begun again).
    pub async fn clear_inputs(&self, team: &str) -> Result<()> {
        sqlx::query("DELETE FROM inputs WHERE team = $1").bind(team).execute(&self.pool).await?;
        Ok(())
    }

    // ---- incident reports

    pub async fn create_report(&self, r: &Report) -> Result<()> {
        sqlx::query(
            "INSERT INTO reports (id, team, user_id, body, grade, created) VALUES ($1, $2, $3, $4, NULL, $5)",
        )
        .bind(&r.id)
        .bind(&r.team)
        .bind(&r.user_id)
        .bind(&r.body)
        .bind(r.created)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    fn report_of(r: &AnyRow) -> Result<Report> {
        Ok(Report {
            id: r.try_get("id")?,
            team: r.try_get("team")?,
            user_id: r.try_get("user_id")?,
            body: r.try_get("body")?,
            grade: r.try_get("grade")?,
            created: r.try_get("created")?,
        })
    }

    pub async fn reports(&self, team: &str) -> Result<Vec<Report>> {
        let rows =
            sqlx::query("SELECT id, team, user_id, body, grade, created FROM reports WHERE team = $1 ORDER BY created, id")
                .bind(team)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(Store::report_of).collect()
    }

    pub async fn grade_report(&self, team: &str, id: &str, grade: f64) -> Result<bool> {
        let r = sqlx::query("UPDATE reports SET grade = $1 WHERE id = $2 AND team = $3")
            .bind(grade)
            .bind(id)
            .bind(team)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    // ---- broadcasts

    /// Appends a message to the run's broadcasts; its number comes back. One statement takes
    /// the next number and writes (SQLite in WAL would refuse a read-then-write transaction
    /// that another writer overtook, without waiting).
    pub async fn add_message(&self, run: &str, author: &str, body: &str, now: i64) -> Result<i64> {
        sqlx::query(
            "INSERT INTO messages (run, seq, author, body, created) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM messages WHERE run = $5",
        )
        .bind(run)
        .bind(author)
        .bind(body)
        .bind(now)
        .bind(run)
        .execute(&self.pool)
        .await
        .map_err(conflict)?;
        let r = sqlx::query("SELECT MAX(seq) AS last FROM messages WHERE run = $1 AND author = $2")
            .bind(run)
            .bind(author)
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get::<Option<i64>, _>("last")?.unwrap_or(0))
    }

    pub async fn messages(&self, run: &str, after: i64) -> Result<Vec<Message>> {
        let rows = sqlx::query(
            "SELECT seq, author, body, created FROM messages WHERE run = $1 AND seq > $2 ORDER BY seq",
        )
        .bind(run)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Message {
                    seq: r.try_get("seq")?,
                    author: r.try_get("author")?,
                    body: r.try_get("body")?,
                    created: r.try_get("created")?,
                })
            })
            .collect()
    }
}
