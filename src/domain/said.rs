//! A message for a person, in both interface languages: what a rule says when it refuses
//! something. The HTTP boundary answers the English one as `error.message` and the Chinese
//! one beside it as `message_zh`, so the web app shows it in the reader's language.

/// English and Chinese texts of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Said {
    pub en: String,
    pub zh: String,
}

impl Said {
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Said {
        Said {
            en: en.into(),
            zh: zh.into(),
        }
    }
}

impl std::fmt::Display for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.en)
    }
}
