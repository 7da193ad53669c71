//! A call's metadata as a recorder describes it, validated once for every way in (HTTP push,
//! bulk import, demo).

use chrono::DateTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
    pub fn parse(s: &str) -> Result<Direction, String> {
        match s.trim() {
            "inbound" => Ok(Direction::Inbound),
            "outbound" => Ok(Direction::Outbound),
            other => Err(format!("direction {other:?} must be inbound or outbound")),
        }
    }
}

/// Which channel of a stereo file carries the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelLayout {
    Mono,
    AgentLeft,
    AgentRight,
}

impl ChannelLayout {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelLayout::Mono => "mono",
            ChannelLayout::AgentLeft => "agent_left",
            ChannelLayout::AgentRight => "agent_right",
        }
    }
    pub fn parse(s: &str) -> Result<ChannelLayout, String> {
        match s.trim() {
            "mono" => Ok(ChannelLayout::Mono),
            "agent_left" => Ok(ChannelLayout::AgentLeft),
            "agent_right" => Ok(ChannelLayout::AgentRight),
            other => Err(format!(
                "channel_layout {other:?} must be mono, agent_left or agent_right"
            )),
        }
    }

    /// When the recorder did not say: stereo recorders put the agent on the left by
    /// convention (Asterisk MixMonitor, most SBC recorders).
    pub fn default_for(channels: u32) -> ChannelLayout {
        if channels >= 2 {
            ChannelLayout::AgentLeft
        } else {
            ChannelLayout::Mono
        }
    }

    /// The layout must fit the file: a stereo layout on a mono file would send graders
    /// looking for a customer channel that does not exist.
    pub fn check_fits(self, channels: u32) -> Result<(), String> {
        match (self, channels) {
            (ChannelLayout::Mono, 1) => Ok(()),
            (ChannelLayout::AgentLeft | ChannelLayout::AgentRight, 2) => Ok(()),
            (layout, n) => Err(format!(
                "channel_layout {} does not fit a file with {n} channel(s)",
                layout.as_str()
            )),
        }
    }
}

/// Validated metadata of one call. `agent` is a username, resolved against the roster later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallMeta {
    pub call_id: String,
    pub agent: String,
    pub started_at_ms: i64,
    pub direction: Direction,
    pub queue: String,
    pub customer_number: Option<String>,
    pub channel_layout: Option<ChannelLayout>,
}

/// The raw fields, as text, exactly as they arrive in JSON or CSV.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct RawCallMeta {
    pub call_id: String,
    pub agent: String,
    pub started_at: String,
    pub direction: String,
    #[serde(default)]
    pub queue: String,
    #[serde(default)]
    pub customer_number: Option<String>,
    #[serde(default)]
    pub channel_layout: Option<String>,
}

impl CallMeta {
    pub fn parse(raw: &RawCallMeta) -> Result<CallMeta, String> {
        let call_id = raw.call_id.trim();
        if call_id.is_empty() || call_id.len() > 128 || call_id.chars().any(char::is_control) {
            return Err("call_id must be 1 to 128 printable characters".into());
        }
        let agent = raw.agent.trim();
        if agent.is_empty() {
            return Err("agent (username) is required".into());
        }
        let started_at = DateTime::parse_from_rfc3339(raw.started_at.trim()).map_err(|_| {
            format!(
                "started_at {:?} is not an RFC 3339 time like 2026-11-02T09:15:00+08:00",
                raw.started_at
            )
        })?;
        let queue = raw.queue.trim();
        if queue.len() > 128 {
            return Err("queue is longer than 128 characters".into());
        }
        let customer_number = raw
            .customer_number
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                if n.len() > 40
                    || !n
                        .chars()
                        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
                {
                    Err(format!("customer_number {n:?} is not a phone number"))
                } else {
                    Ok(n.to_string())
                }
            })
            .transpose()?;
        let channel_layout = raw
            .channel_layout
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(ChannelLayout::parse)
            .transpose()?;
        Ok(CallMeta {
            call_id: call_id.to_string(),
            agent: agent.to_string(),
            started_at_ms: started_at.timestamp_millis(),
            direction: Direction::parse(&raw.direction)?,
            queue: queue.to_string(),
            customer_number,
            channel_layout,
        })
    }
}

/// Customer numbers are personal data: the interface shows only the first three and last
/// four digits (`138****5678`), or the last two of a short number.
pub fn mask_customer_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let n = chars.len();
    if n >= 9 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[n - 4..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(n - 7))
    } else if n > 2 {
        let tail: String = chars[n - 2..].iter().collect();
        format!("{}{tail}", "*".repeat(n - 2))
    } else {
        "*".repeat(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawCallMeta {
        RawCallMeta {
            call_id: "C-1".into(),
            agent: "agent-a1".into(),
            started_at: "2026-11-02T09:15:00+08:00".into(),
            direction: "inbound".into(),
            queue: "billing".into(),
            customer_number: Some("13812345678".into()),
            channel_layout: None,
        }
    }

    #[test]
    fn parses_valid_metadata() {
        let m = CallMeta::parse(&raw()).expect("valid");
        assert_eq!(m.started_at_ms, 1_793_582_100_000);
        assert_eq!(m.direction, Direction::Inbound);
        assert_eq!(m.channel_layout, None);
    }

    #[test]
    fn refuses_bad_fields_with_a_reason() {
        let mut r = raw();
        r.started_at = "yesterday".into();
        assert!(CallMeta::parse(&r).unwrap_err().contains("RFC 3339"));
        let mut r = raw();
        r.direction = "sideways".into();
        assert!(CallMeta::parse(&r).unwrap_err().contains("direction"));
        let mut r = raw();
        r.call_id = "  ".into();
        assert!(CallMeta::parse(&r).is_err());
        let mut r = raw();
        r.customer_number = Some("<script>".into());
        assert!(CallMeta::parse(&r).is_err());
        let mut r = raw();
        r.channel_layout = Some("left".into());
        assert!(CallMeta::parse(&r).is_err());
    }

    #[test]
    fn layout_must_fit_channels() {
        assert!(ChannelLayout::Mono.check_fits(1).is_ok());
        assert!(ChannelLayout::Mono.check_fits(2).is_err());
        assert!(ChannelLayout::AgentRight.check_fits(2).is_ok());
        assert!(ChannelLayout::AgentLeft.check_fits(1).is_err());
        assert_eq!(ChannelLayout::default_for(2), ChannelLayout::AgentLeft);
    }

    #[test]
    fn masks_numbers() {
        assert_eq!(mask_customer_number("13812345678"), "138****5678");
        assert_eq!(mask_customer_number("95588"), "***88");
        assert_eq!(mask_customer_number("12"), "**");
    }
}
