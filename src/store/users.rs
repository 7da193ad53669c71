//! People and teams.

use sqlx::Row;

use super::{Db, Tx, now_ms};
use crate::domain::access::{Scope, Viewer};
use crate::domain::org::{Person, Role};

#[derive(Clone, Debug, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub role: Role,
    #[serde(skip)]
    pub team_id: Option<i64>,
    pub team: Option<String>,
    pub hire_date: Option<String>,
}

impl User {
    pub fn viewer(&self) -> Viewer {
        Viewer {
            user_id: self.id,
            role: self.role,
            team_id: self.team_id,
        }
    }
}

pub(super) const USER_COLUMNS: &str =
    "u.id, u.username, u.name, u.role, u.team_id, t.name AS team, u.hire_date";

pub(super) fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        name: row.try_get("name")?,
        role: role
            .parse()
            .map_err(|e: String| sqlx::Error::Decode(e.into()))?,
        team_id: row.try_get("team_id")?,
        team: row.try_get("team")?,
        hire_date: row.try_get("hire_date")?,
    })
}

/// The user and their password hash, for login. Inactive people are not found.
pub async fn find_for_login(
    db: &Db,
    username: &str,
) -> Result<Option<(User, Option<String>)>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS}, u.password_hash FROM users u LEFT JOIN teams t ON t.id = u.team_id \
         WHERE u.username = $1 AND u.active = 1"
    ));
    let row = sqlx::query(sql)
        .bind(username)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| Ok((user_from_row(&r)?, r.try_get("password_hash")?)))
        .transpose()
}

pub async fn get(db: &Db, id: i64) -> Result<Option<User>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users u LEFT JOIN teams t ON t.id = u.team_id \
         WHERE u.id = $1 AND u.active = 1"
    ));
    let row = sqlx::query(sql).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(user_from_row).transpose()
}

/// An active person by username.
pub async fn find_active(db: &Db, username: &str) -> Result<Option<User>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users u LEFT JOIN teams t ON t.id = u.team_id \
         WHERE u.username = $1 AND u.active = 1"
    ));
    let row = sqlx::query(sql)
        .bind(username)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// An agent by username, with their team (to check who may see their calls).
pub async fn find_agent(db: &Db, username: &str) -> Result<Option<User>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users u LEFT JOIN teams t ON t.id = u.team_id \
         WHERE u.username = $1 AND u.role = 'agent'"
    ));
    let row = sqlx::query(sql)
        .bind(username)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Agents the viewer may see, ordered by team and username.
pub async fn list_agents(db: &Db, viewer: &Viewer) -> Result<Vec<User>, sqlx::Error> {
    let (kind, id) = scope_params(viewer.scope());
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users u LEFT JOIN teams t ON t.id = u.team_id \
         WHERE u.role = 'agent' AND u.active = 1 AND {SCOPE_FILTER} \
         ORDER BY t.name, u.username"
    ));
    let rows = sqlx::query(sql)
        .bind(kind)
        .bind(id)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(user_from_row).collect()
}

/// Active people of the given roles, by role, team and name (for pickers of who may take
/// a piece of work).
pub async fn list_with_roles(db: &Db, roles: &[Role]) -> Result<Vec<User>, sqlx::Error> {
    let mut people = Vec::new();
    for role in roles {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users u LEFT JOIN teams t ON t.id = u.team_id \
             WHERE u.role = $1 AND u.active = 1 ORDER BY t.name, u.name, u.username"
        ));
        let rows = sqlx::query(sql)
            .bind(role.as_str())
            .fetch_all(&db.pool)
            .await?;
        for row in &rows {
            people.push(user_from_row(row)?);
        }
    }
    Ok(people)
}

/// SQL condition restricting rows to a viewer's scope; `$1` is the scope kind and `$2` the
/// team or user id, `u` the agent's row. Kept as one static fragment so every query applies
/// exactly the same rule as [`Viewer::can_see_agent`].
pub const SCOPE_FILTER: &str = "($1 = 'center' OR ($1 = 'team' AND u.team_id = $2) \
     OR ($1 = 'own' AND u.id = $2))";

pub fn scope_params(scope: Scope) -> (&'static str, i64) {
    match scope {
        Scope::Center => ("center", 0),
        Scope::Team(team) => ("team", team),
        Scope::Own(user) => ("own", user),
        Scope::Nothing => ("nothing", 0),
    }
}

pub async fn ensure_team(tx: &mut Tx, name: &str) -> Result<i64, sqlx::Error> {
    if let Some(row) = sqlx::query("SELECT id FROM teams WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
    {
        return row.try_get("id");
    }
    sqlx::query("INSERT INTO teams (name, created_at_ms) VALUES ($1, $2) RETURNING id")
        .bind(name)
        .bind(now_ms())
        .fetch_one(&mut **tx)
        .await?
        .try_get("id")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upsert {
    Created,
    Updated,
    Unchanged,
}

/// Creates or updates a person. `password` is checked and hashed by the caller: `Some` sets
/// it, `None` leaves an existing password alone.
pub async fn upsert_person(
    tx: &mut Tx,
    person: &Person,
    password: Option<PasswordChange>,
) -> Result<Upsert, sqlx::Error> {
    let team_id = match &person.team {
        Some(team) => Some(ensure_team(tx, team).await?),
        None => None,
    };
    let hire_date = person.hire_date.map(|d| d.format("%Y-%m-%d").to_string());
    let existing = sqlx::query(
        "SELECT id, name, role, team_id, hire_date, password_hash, active FROM users WHERE username = $1",
    )
    .bind(person.username.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let now = now_ms();
    let Some(row) = existing else {
        let hash = password.map(|p| p.hash);
        sqlx::query(
            "INSERT INTO users (username, name, role, team_id, hire_date, password_hash, active, \
             created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
        )
        .bind(person.username.as_str())
        .bind(&person.name)
        .bind(person.role.as_str())
        .bind(team_id)
        .bind(hire_date)
        .bind(hash)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        return Ok(Upsert::Created);
    };
    let id: i64 = row.try_get("id")?;
    let same = row.try_get::<String, _>("name")? == person.name
        && row.try_get::<String, _>("role")? == person.role.as_str()
        && row.try_get::<Option<i64>, _>("team_id")? == team_id
        && row.try_get::<Option<String>, _>("hire_date")? == hire_date
        && row.try_get::<i64, _>("active")? == 1
        && password.as_ref().is_none_or(|p| p.unchanged);
    if same {
        return Ok(Upsert::Unchanged);
    }
    let old_hash: Option<String> = row.try_get("password_hash")?;
    let new_password = password.as_ref().is_some_and(|p| !p.unchanged);
    let hash = match password {
        Some(p) if !p.unchanged => Some(p.hash),
        _ => old_hash,
    };
    if new_password {
        // A new password ends every session of the old one: whoever knew it is signed out.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "UPDATE users SET name = $1, role = $2, team_id = $3, hire_date = $4, password_hash = $5, \
         active = 1, updated_at_ms = $6 WHERE id = $7",
    )
    .bind(&person.name)
    .bind(person.role.as_str())
    .bind(team_id)
    .bind(hire_date)
    .bind(hash)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(Upsert::Updated)
}

/// A password to store: its new hash, or the note that the stored one already matches.
pub struct PasswordChange {
    pub hash: String,
    pub unchanged: bool,
}

pub async fn password_hash_of(db: &Db, username: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT password_hash FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row
        .map(|r| r.try_get("password_hash"))
        .transpose()?
        .flatten())
}

pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(&db.pool)
        .await?
        .try_get("n")
}
