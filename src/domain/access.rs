//! Who may see whose calls. One rule, used by every route that shows a recording, a list
//! entry or (later) audio, and turned into a SQL filter by the store.

use super::org::Role;

/// The signed-in person as access rules need them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: i64,
    pub role: Role,
    pub team_id: Option<i64>,
}

/// Which agents' calls a viewer may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The whole center: supervisors, and the QA inspectors and appeal panel, whose work
    /// (pulling a complained-about call, hearing an appeal) can concern any agent.
    Center,
    /// The agents of one team: a team lead.
    Team(i64),
    /// Only their own calls: an agent.
    Own(i64),
    /// Nothing (a team lead without a team).
    Nothing,
}

impl Viewer {
    pub fn scope(&self) -> Scope {
        match self.role {
            Role::Supervisor | Role::Inspector | Role::Panel => Scope::Center,
            Role::TeamLead => self.team_id.map_or(Scope::Nothing, Scope::Team),
            Role::Agent => Scope::Own(self.user_id),
        }
    }

    pub fn can_see_agent(&self, agent_id: i64, agent_team_id: Option<i64>) -> bool {
        match self.scope() {
            Scope::Center => true,
            Scope::Team(team) => agent_team_id == Some(team),
            Scope::Own(me) => agent_id == me,
            Scope::Nothing => false,
        }
    }

    /// Pushing recordings over HTTP with a session is for supervisors; recorders use tokens.
    pub fn can_upload_recordings(&self) -> bool {
        self.role == Role::Supervisor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(role: Role, user_id: i64, team_id: Option<i64>) -> Viewer {
        Viewer {
            user_id,
            role,
            team_id,
        }
    }

    #[test]
    fn agents_see_only_themselves() {
        let a = viewer(Role::Agent, 7, Some(1));
        assert!(a.can_see_agent(7, Some(1)));
        assert!(!a.can_see_agent(8, Some(1)));
    }

    #[test]
    fn leads_see_their_team_only() {
        let lead = viewer(Role::TeamLead, 3, Some(1));
        assert!(lead.can_see_agent(7, Some(1)));
        assert!(!lead.can_see_agent(9, Some(2)));
        assert!(!lead.can_see_agent(9, None));
        assert!(!viewer(Role::TeamLead, 3, None).can_see_agent(7, Some(1)));
    }

    #[test]
    fn center_roles_see_everyone_but_only_supervisors_upload() {
        for role in [Role::Supervisor, Role::Inspector, Role::Panel] {
            assert!(viewer(role, 1, None).can_see_agent(7, Some(1)));
        }
        assert!(viewer(Role::Supervisor, 1, None).can_upload_recordings());
        assert!(!viewer(Role::Inspector, 1, None).can_upload_recordings());
        assert!(!viewer(Role::Agent, 1, None).can_upload_recordings());
    }
}
