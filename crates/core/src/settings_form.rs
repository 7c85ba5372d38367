//! The format's own part of the repository form in the UI: each format describes its settings
//! (REST field names, labels, inputs) and the UI renders them, so neither core nor the web
//! crate knows a format's fields.

use crate::model::RepoKind;

/// One fieldset of the form, shown for the format and `kinds` (all kinds when empty).
#[derive(Clone, Debug)]
pub struct FormBlock {
    pub legend: &'static str,
    pub kinds: &'static [RepoKind],
    pub fields: Vec<FormField>,
}

/// One setting: `name` is its dotted path in Nexus's repository body (`maven.versionPolicy`).
#[derive(Clone, Debug)]
pub struct FormField {
    pub name: &'static str,
    pub label: &'static str,
    pub input: Input,
}

#[derive(Clone, Debug)]
pub enum Input {
    /// One of these values (value, label); the first is the default.
    Choice(&'static [(&'static str, &'static str)]),
    /// A whole number within bounds; empty means "not set" unless there is a default.
    Number {
        min: i64,
        max: i64,
        default: Option<i64>,
    },
}

impl FormField {
    /// A choice whose labels are its values.
    pub fn choice(
        name: &'static str,
        label: &'static str,
        values: &'static [(&'static str, &'static str)],
    ) -> Self {
        Self {
            name,
            label,
            input: Input::Choice(values),
        }
    }
    pub fn number(
        name: &'static str,
        label: &'static str,
        min: i64,
        max: i64,
        default: Option<i64>,
    ) -> Self {
        Self {
            name,
            label,
            input: Input::Number { min, max, default },
        }
    }
}
