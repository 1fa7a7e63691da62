//! Runs, their staff, their teams and the teams' members.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Block, Result, Run, RunRole, RunStatus, StaffRole, Store, Team, TeamRole, conflict, word};

impl Store {
    // ---- runs

    /// Keeps the run, its creator as its instructor.
    pub async fn create_run(&self, r: &Run, now: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO runs (id, name, exercise, exercise_text, files, seed, speed, status, start_ms, created_by, created, rules) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.exercise)
        .bind(&r.exercise_text)
        .bind(&r.files)
        .bind(r.seed)
        .bind(r.speed)
        .bind(r.status.as_str())
        .bind(r.start_ms)
        .bind(&r.created_by)
        .bind(now)
        .bind(r.rules)
        .execute(&mut *tx)
        .await
        .map_err(conflict)?;
        sqlx::query("INSERT INTO staff (run, user_id, role) VALUES ($1, $2, $3)")
            .bind(&r.id)
            .bind(&r.created_by)
            .bind(StaffRole::Instructor.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    fn run_of(r: &AnyRow) -> Result<Run> {
        Ok(Run {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            exercise: r.try_get("exercise")?,
            exercise_text: r.try_get("exercise_text")?,
            files: r.try_get("files")?,
            seed: r.try_get("seed")?,
            speed: r.try_get("speed")?,
            status: word(r, "status")?,
            start_ms: r.try_get("start_ms")?,
            created_by: r.try_get("created_by")?,
            rules: r.try_get("rules")?,
        })
    }

    const RUN_COLUMNS: &'static str =
        "id, name, exercise, exercise_text, files, seed, speed, status, start_ms, created_by, rules";

    pub async fn run(&self, id: &str) -> Result<Option<Run>> {
        let q = format!("SELECT {} FROM runs WHERE id = $1", Store::RUN_COLUMNS);
        let r = sqlx::query(&q).bind(id).fetch_optional(&self.pool).await?;
        r.as_ref().map(Store::run_of).transpose()
    }

    pub async fn runs(&self) -> Result<Vec<Run>> {
        let q = format!("SELECT {} FROM runs ORDER BY created, id", Store::RUN_COLUMNS);
        let rows = sqlx::query(&q).fetch_all(&self.pool).await?;
        rows.iter().map(Store::run_of).collect()
    }

    pub async fn set_run_status(&self, id: &str, status: RunStatus, speed: f64) -> Result<()> {
        sqlx::query("UPDATE runs SET status = $1, speed = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(speed)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- staff

    pub async fn add_staff(&self, run: &str, user: &str, role: StaffRole) -> Result<()> {
        sqlx::query("INSERT INTO staff (run, user_id, role) VALUES ($1, $2, $3)")
            .bind(run)
            .bind(user)
            .bind(role.as_str())
            .execute(&self.pool)
            .await
            .map_err(conflict)?;
        Ok(())
    }

    /// The user's role, if they are staff of the run.
    pub async fn staff_role(&self, run: &str, user: &str) -> Result<Option<StaffRole>> {
        let r = sqlx::query("SELECT role FROM staff WHERE run = $1 AND user_id = $2")
            .bind(run)
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| word(&r, "role")).transpose()
    }

    /// Every run the user has a part in: (run id, part, team for a trainee).
    pub async fn parts(&self, user: &str) -> Result<Vec<(String, RunRole, Option<String>)>> {
        let mut out = Vec::new();
        let staff = sqlx::query("SELECT run, role FROM staff WHERE user_id = $1 ORDER BY run")
            .bind(user)
            .fetch_all(&self.pool)
            .await?;
        for r in &staff {
            out.push((r.try_get("run")?, RunRole::from(word::<StaffRole>(r, "role")?), None));
        }
        let rows = sqlx::query("SELECT run, team FROM members WHERE user_id = $1 ORDER BY run")
            .bind(user)
            .fetch_all(&self.pool)
            .await?;
        for r in &rows {
            out.push((r.try_get("run")?, RunRole::Trainee, Some(r.try_get("team")?)));
        }
        Ok(out)
    }

    // ---- teams

    /// A new team holding its address block `t.base`, in one transaction: `Conflict` when the
    /// run has a team of that name or another team holds the block (the caller picks another).
    pub async fn create_team(&self, t: &Team) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO teams (id, run, name, base) VALUES ($1, $2, $3, $4)")
            .bind(&t.id)
            .bind(&t.run)
            .bind(&t.name)
            .bind(&t.base)
            .execute(&mut *tx)
            .await
            .map_err(conflict)?;
        sqlx::query("INSERT INTO blocks (base, team) VALUES ($1, $2)")
            .bind(&t.base)
            .bind(&t.id)
            .execute(&mut *tx)
            .await
            .map_err(conflict)?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the run has a team of that name.
    pub async fn team_named(&self, run: &str, name: &str) -> Result<bool> {
        let r = sqlx::query("SELECT id FROM teams WHERE run = $1 AND name = $2")
            .bind(run)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.is_some())
    }

    /// Gives back the address blocks of a run's teams (its ranges have ended and their
    /// listeners are closed).
    pub async fn release_blocks(&self, run: &str) -> Result<()> {
        sqlx::query("DELETE FROM blocks WHERE team IN (SELECT id FROM teams WHERE run = $1)")
            .bind(run)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every block held: (block, team id, team name, run id, run name, run status).
    pub async fn blocks(&self) -> Result<Vec<Block>> {
        let rows = sqlx::query(
            "SELECT b.base, t.id AS team, t.name AS team_name, r.id AS run, r.name AS run_name, r.status \
             FROM blocks b JOIN teams t ON t.id = b.team JOIN runs r ON r.id = t.run ORDER BY b.base",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Block {
                    base: r.try_get("base")?,
                    team: r.try_get("team")?,
                    team_name: r.try_get("team_name")?,
                    run: r.try_get("run")?,
                    run_name: r.try_get("run_name")?,
                    status: word(r, "status")?,
                })
            })
            .collect()
    }

    /// Deletes a team of a draft run and everything of it (its members' accounts stay).
    pub async fn delete_team(&self, team: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM blocks WHERE team = $1",
            "DELETE FROM invites WHERE team = $1",
            "DELETE FROM members WHERE team = $1",
            "DELETE FROM inputs WHERE team = $1",
            "DELETE FROM reports WHERE team = $1",
            "DELETE FROM teams WHERE id = $1",
        ] {
            sqlx::query(sql).bind(team).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a draft run, its teams and everything of them (accounts stay).
    pub async fn delete_run(&self, run: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM blocks WHERE team IN (SELECT id FROM teams WHERE run = $1)",
            "DELETE FROM inputs WHERE team IN (SELECT id FROM teams WHERE run = $1)",
            "DELETE FROM reports WHERE team IN (SELECT id FROM teams WHERE run = $1)",
            "DELETE FROM invites WHERE run = $1",
            "DELETE FROM members WHERE run = $1",
            "DELETE FROM staff WHERE run = $1",
            "DELETE FROM messages WHERE run = $1",
            "DELETE FROM teams WHERE run = $1",
            "DELETE FROM runs WHERE id = $1",
        ] {
            sqlx::query(sql).bind(run).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Address blocks held by the teams of the runs a user created.
    pub async fn blocks_held_by(&self, user: &str) -> Result<usize> {
        let rows = sqlx::query(
            "SELECT b.base FROM blocks b JOIN teams t ON t.id = b.team JOIN runs r ON r.id = t.run WHERE r.created_by = $1",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.len())
    }

    /// Runs a user created that have not ended.
    pub async fn open_runs_by(&self, user: &str) -> Result<usize> {
        let rows = sqlx::query("SELECT id FROM runs WHERE created_by = $1 AND status <> $2")
            .bind(user)
            .bind(RunStatus::Ended.as_str())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.len())
    }

    fn team_of(r: &AnyRow) -> Result<Team> {
        Ok(Team {
            id: r.try_get("id")?,
            run: r.try_get("run")?,
            name: r.try_get("name")?,
            base: r.try_get("base")?,
        })
    }

    pub async fn teams(&self, run: &str) -> Result<Vec<Team>> {
        let rows = sqlx::query("SELECT id, run, name, base FROM teams WHERE run = $1 ORDER BY name")
            .bind(run)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Store::team_of).collect()
    }

    pub async fn team(&self, id: &str) -> Result<Option<Team>> {
        let r = sqlx::query("SELECT id, run, name, base FROM teams WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(Store::team_of).transpose()
    }

    /// Address blocks held (by teams of runs that have not ended, or whose listeners are
    /// still being closed).
    pub async fn bases_in_use(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT base FROM blocks").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(r.try_get("base")?)).collect()
    }

    // ---- members

    /// Makes the user a member of the team (one team per run: a second is a conflict).
    pub async fn add_member(&self, run: &str, team: &str, user: &str, role: TeamRole) -> Result<()> {
        sqlx::query("INSERT INTO members (run, user_id, team, role) VALUES ($1, $2, $3, $4)")
            .bind(run)
            .bind(user)
            .bind(team)
            .bind(role.as_str())
            .execute(&self.pool)
            .await
            .map_err(conflict)?;
        Ok(())
    }

    /// The user's team in the run and role in it.
    pub async fn membership(&self, run: &str, user: &str) -> Result<Option<(String, TeamRole)>> {
        let r = sqlx::query("SELECT team, role FROM members WHERE run = $1 AND user_id = $2")
            .bind(run)
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| Ok((r.try_get("team")?, word(&r, "role")?))).transpose()
    }

    /// A team's members: (user id, name, role).
    pub async fn members(&self, team: &str) -> Result<Vec<(String, String, TeamRole)>> {
        let rows = sqlx::query(
            "SELECT u.id, u.name, m.role FROM members m JOIN users u ON u.id = m.user_id WHERE m.team = $1 ORDER BY u.name",
        )
        .bind(team)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("name")?, word(r, "role")?))).collect()
    }
}
