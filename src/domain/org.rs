//! People and teams: roles, usernames, roster rows.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Supervisor,
    Inspector,
    TeamLead,
    Agent,
    Panel,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Supervisor,
        Role::Inspector,
        Role::TeamLead,
        Role::Agent,
        Role::Panel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Supervisor => "supervisor",
            Role::Inspector => "inspector",
            Role::TeamLead => "team_lead",
            Role::Agent => "agent",
            Role::Panel => "panel",
        }
    }

    /// Agents and team leads belong to a team; the others work across the center.
    pub fn needs_team(self) -> bool {
        matches!(self, Role::Agent | Role::TeamLead)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?} (expected supervisor, inspector, team_lead, agent or panel)"
                )
            })
    }
}

/// A login name: 1–64 characters of letters, digits, `.`, `_`, `-`, `@`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, String> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 64 {
            return Err("username must be 1 to 64 characters".into());
        }
        if !s
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        {
            return Err(format!(
                "username {s:?} may contain only letters, digits, '.', '_', '-' and '@'"
            ));
        }
        Ok(Username(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One person as the roster (or `users add`) describes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub username: Username,
    pub name: String,
    pub role: Role,
    pub team: Option<String>,
    pub hire_date: Option<NaiveDate>,
}

impl Person {
    pub fn new(
        username: &str,
        name: &str,
        role: &str,
        team: &str,
        hire_date: &str,
    ) -> Result<Person, String> {
        let username = Username::parse(username)?;
        let role: Role = role.parse()?;
        let name = name.trim();
        let name = if name.is_empty() {
            username.as_str().to_string()
        } else {
            name.to_string()
        };
        let team = Some(team.trim())
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if role.needs_team() && team.is_none() {
            return Err(format!("a {role} needs a team"));
        }
        let hire_date = match hire_date.trim() {
            "" => None,
            d => Some(
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| format!("hire_date {d:?} is not a date like 2026-03-01"))?,
            ),
        };
        Ok(Person {
            username,
            name,
            role,
            team,
            hire_date,
        })
    }
}

/// Passwords shorter than this are refused: they would fall to guessing despite the
/// login slow-down.
pub const MIN_PASSWORD_CHARS: usize = 8;

pub fn check_password_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("boss".parse::<Role>().is_err());
    }

    #[test]
    fn agents_need_a_team_supervisors_do_not() {
        assert!(Person::new("a1", "A", "agent", "", "").is_err());
        assert!(Person::new("s", "S", "supervisor", "", "").is_ok());
        let p = Person::new(" a1 ", "", "agent", "team-a", "2026-09-01").expect("valid");
        assert_eq!(p.username.as_str(), "a1");
        assert_eq!(p.name, "a1");
        assert_eq!(p.team.as_deref(), Some("team-a"));
    }

    #[test]
    fn bad_usernames_and_dates_are_refused() {
        assert!(Username::parse("").is_err());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("王芳").is_ok());
        assert!(Person::new("a1", "A", "agent", "t", "01/09/2026").is_err());
    }
}
