//! Accounts: organisations, users, sessions and invitations.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Error, Invite, Org, Result, Store, User, conflict, word};

impl Store {
    // ---- organisations

    pub async fn create_org(&self, o: &Org) -> Result<()> {
        sqlx::query("INSERT INTO orgs (id, name, country, kind) VALUES ($1, $2, $3, $4)")
            .bind(&o.id)
            .bind(&o.name)
            .bind(&o.country)
            .bind(o.kind.as_str())
            .execute(&self.pool)
            .await
            .map_err(conflict)?;
        Ok(())
    }

    fn org_of(r: &AnyRow) -> Result<Org> {
        Ok(Org {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            country: r.try_get("country")?,
            kind: word(r, "kind")?,
        })
    }

    pub async fn orgs(&self) -> Result<Vec<Org>> {
        let rows = sqlx::query("SELECT id, name, country, kind FROM orgs ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Store::org_of).collect()
    }

    pub async fn org_by_name(&self, name: &str) -> Result<Option<Org>> {
        let r = sqlx::query("SELECT id, name, country, kind FROM orgs WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(Store::org_of).transpose()
    }

    // ---- users

    pub async fn create_user(&self, u: &User, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, name, org, hash, admin, staff, disabled, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&u.id)
        .bind(&u.name)
        .bind(u.org.clone())
        .bind(&u.hash)
        .bind(u.admin as i64)
        .bind(u.staff as i64)
        .bind(u.disabled as i64)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(conflict)?;
        Ok(())
    }

    fn user_of(r: &AnyRow) -> Result<User> {
        Ok(User {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            org: r.try_get("org")?,
            hash: r.try_get("hash")?,
            admin: r.try_get::<i64, _>("admin")? != 0,
            staff: r.try_get::<i64, _>("staff")? != 0,
            disabled: r.try_get::<i64, _>("disabled")? != 0,
        })
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        let r = sqlx::query("SELECT id, name, org, hash, admin, staff, disabled FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(Store::user_of).transpose()
    }

    pub async fn user(&self, id: &str) -> Result<Option<User>> {
        let r = sqlx::query("SELECT id, name, org, hash, admin, staff, disabled FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(Store::user_of).transpose()
    }

    pub async fn set_disabled(&self, id: &str, disabled: bool) -> Result<()> {
        sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(disabled as i64)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- sessions

    pub async fn create_session(&self, token_hash: &str, user: &str, csrf: &str, expires: i64) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf, expires) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user)
            .bind(csrf)
            .bind(expires)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The session's user (enabled) and CSRF token, if the session exists and has not expired.
    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<(User, String)>> {
        let r = sqlx::query(
            "SELECT u.id, u.name, u.org, u.hash, u.admin, u.staff, u.disabled, s.csrf FROM sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires > $2 AND u.disabled = 0",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| Ok((Store::user_of(&r)?, r.try_get("csrf")?))).transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- invitations

    pub async fn create_invite(&self, token_hash: &str, i: &Invite) -> Result<()> {
        sqlx::query(
            "INSERT INTO invites (token_hash, run, role, team, team_role, expires, used) VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(token_hash)
        .bind(&i.run)
        .bind(i.role.as_str())
        .bind(i.team.clone())
        .bind(i.team_role.as_str())
        .bind(i.expires)
        .execute(&self.pool)
        .await
        .map_err(conflict)?;
        Ok(())
    }

    fn invite_of(r: &AnyRow) -> Result<Invite> {
        Ok(Invite {
            run: r.try_get("run")?,
            role: word(r, "role")?,
            team: r.try_get("team")?,
            team_role: word(r, "team_role")?,
            expires: r.try_get("expires")?,
        })
    }

    /// An invitation that is neither used nor expired, without using it.
    pub async fn invite(&self, token_hash: &str, now: i64) -> Result<Option<Invite>> {
        let r = sqlx::query(
            "SELECT run, role, team, team_role, expires FROM invites WHERE token_hash = $1 AND used = 0 AND expires > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(Store::invite_of).transpose()
    }

    /// Uses an invitation and creates its account (and `new_org`, the organisation it names
    /// when that is new) in one transaction: a second use, an expired invitation, a taken name
    /// or a taken organisation name change nothing.
    pub async fn accept_invite(
        &self,
        token_hash: &str,
        now: i64,
        user: &User,
        new_org: Option<&Org>,
    ) -> Result<Option<Invite>> {
        let mut tx = self.pool.begin().await?;
        let used =
            sqlx::query("UPDATE invites SET used = 1 WHERE token_hash = $1 AND used = 0 AND expires > $2")
                .bind(token_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        if used.rows_affected() != 1 {
            return Ok(None);
        }
        let r = sqlx::query("SELECT run, role, team, team_role, expires FROM invites WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_one(&mut *tx)
            .await?;
        let inv = Store::invite_of(&r)?;
        if let Some(o) = new_org {
            sqlx::query("INSERT INTO orgs (id, name, country, kind) VALUES ($1, $2, $3, $4)")
                .bind(&o.id)
                .bind(&o.name)
                .bind(&o.country)
                .bind(o.kind.as_str())
                .execute(&mut *tx)
                .await
                .map_err(conflict)?;
        }
        sqlx::query(
            "INSERT INTO users (id, name, org, hash, admin, staff, disabled, created) VALUES ($1, $2, $3, $4, 0, $5, 0, $6)",
        )
        .bind(&user.id)
        .bind(&user.name)
        .bind(user.org.clone())
        .bind(&user.hash)
        .bind(user.staff as i64)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(conflict)?;
        match (&inv.team, inv.role.staff()) {
            (Some(team), _) => {
                sqlx::query("INSERT INTO members (run, user_id, team, role) VALUES ($1, $2, $3, $4)")
                    .bind(&inv.run)
                    .bind(&user.id)
                    .bind(team)
                    .bind(inv.team_role.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict)?;
            }
            (None, Some(role)) => {
                sqlx::query("INSERT INTO staff (run, user_id, role) VALUES ($1, $2, $3)")
                    .bind(&inv.run)
                    .bind(&user.id)
                    .bind(role.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict)?;
            }
            // A trainee's invitation without a team: never written (the web layer refuses
            // it); nothing is committed.
            (None, None) => return Err(Error::Invalid("a trainee's invitation names no team")),
        }
        tx.commit().await?;
        Ok(Some(inv))
    }
}
