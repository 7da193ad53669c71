//! `callgrade org import roster.csv` and `callgrade users add`: the people of the center.

use std::io::Read;

use anyhow::Context;

use crate::auth::{hash_password, verify_password};
use crate::domain::org::{Person, check_password_strength};
use crate::store::Db;
use crate::store::users::{self, PasswordChange, Upsert};

#[derive(Debug, serde::Deserialize)]
struct RosterRow {
    username: String,
    #[serde(default)]
    name: String,
    role: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    hire_date: String,
    #[serde(default)]
    password: Option<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct RosterReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Parses the whole roster first: one bad row stops the import before anything changes, with
/// every bad row listed.
pub fn parse_roster(reader: impl Read) -> anyhow::Result<Vec<(Person, Option<String>)>> {
    let mut csv = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let mut people = Vec::new();
    let mut errors = Vec::new();
    for (i, row) in csv.deserialize::<RosterRow>().enumerate() {
        let line = i + 2;
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let person = Person::new(
            &row.username,
            &row.name,
            &row.role,
            &row.team,
            &row.hire_date,
        );
        let password = row.password.filter(|p| !p.is_empty());
        let checked = password.as_deref().map(check_password_strength).transpose();
        match (person, checked) {
            (Ok(p), Ok(_)) => people.push((p, password)),
            (Err(e), _) | (_, Err(e)) => errors.push(format!("line {line}: {e}")),
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (p, _) in &people {
        if !seen.insert(p.username.as_str().to_string()) {
            errors.push(format!("username {:?} appears twice", p.username.as_str()));
        }
    }
    anyhow::ensure!(
        errors.is_empty(),
        "the roster has errors, nothing was imported:\n  {}",
        errors.join("\n  ")
    );
    Ok(people)
}

/// Applies a parsed roster in one transaction. Idempotent: an unchanged row (same password
/// included) changes nothing.
pub async fn import_roster(
    db: &Db,
    people: &[(Person, Option<String>)],
) -> anyhow::Result<RosterReport> {
    // Hashing is slow on purpose, so it happens before the write transaction.
    let mut changes = Vec::with_capacity(people.len());
    for (person, password) in people {
        let change = match password {
            None => None,
            Some(pw) => {
                let current = users::password_hash_of(db, person.username.as_str()).await?;
                let pw = pw.clone();
                Some(
                    tokio::task::spawn_blocking(move || -> anyhow::Result<PasswordChange> {
                        match current {
                            Some(hash) if verify_password(&pw, &hash) => Ok(PasswordChange {
                                hash,
                                unchanged: true,
                            }),
                            _ => Ok(PasswordChange {
                                hash: hash_password(&pw)?,
                                unchanged: false,
                            }),
                        }
                    })
                    .await??,
                )
            }
        };
        changes.push(change);
    }
    let mut report = RosterReport::default();
    let mut tx = db.begin_write().await?;
    for ((person, _), change) in people.iter().zip(changes) {
        match users::upsert_person(&mut tx, person, change)
            .await
            .with_context(|| format!("saving {}", person.username.as_str()))?
        {
            Upsert::Created => report.created += 1,
            Upsert::Updated => report.updated += 1,
            Upsert::Unchanged => report.unchanged += 1,
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// `users add`: a new person; refuses an existing username (the roster import updates).
pub async fn add_user(db: &Db, person: &Person, password: &str) -> anyhow::Result<()> {
    check_password_strength(password).map_err(anyhow::Error::msg)?;
    let pw = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&pw)).await??;
    let mut tx = db.begin_write().await?;
    let outcome = users::upsert_person(
        &mut tx,
        person,
        Some(PasswordChange {
            hash,
            unchanged: false,
        }),
    )
    .await?;
    // Anything but a creation is rolled back: dropping the transaction undoes the update.
    anyhow::ensure!(
        outcome == Upsert::Created,
        "user {:?} already exists (use `org import` to change people)",
        person.username.as_str()
    );
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_row_stops_the_whole_roster_with_every_reason() {
        let csv = "username,name,role,team,hire_date,password\n\
                   a1,A,agent,t1,2026-01-01,\n\
                   a2,B,boss,t1,,\n\
                   a3,C,agent,,,\n\
                   a1,D,agent,t1,,short\n";
        let err = parse_roster(csv.as_bytes())
            .expect_err("invalid")
            .to_string();
        assert!(
            err.contains("line 3") && err.contains("unknown role"),
            "{err}"
        );
        assert!(
            err.contains("line 4") && err.contains("needs a team"),
            "{err}"
        );
        assert!(
            err.contains("line 5") && err.contains("at least 8"),
            "{err}"
        );
    }

    #[test]
    fn password_column_is_optional() -> anyhow::Result<()> {
        let csv = "username,name,role,team,hire_date\ns,Sup,supervisor,,\n";
        let people = parse_roster(csv.as_bytes())?;
        assert_eq!(people.len(), 1);
        assert_eq!(people[0].1, None);
        Ok(())
    }
}
