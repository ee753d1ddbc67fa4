//! Change freezes (`freezes:` in quorate.yaml): named windows, as RFC 3339 ranges or a cron
//! expression plus a duration in a time zone, scoped to groups, namespaces or labels. Which
//! windows are open at `now` is computed here and published as `input.context.freezes`, so one
//! Rego rule (`freeze/change-during-freeze`) judges check, diff and serve alike.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::model::ChangeSet;

/// When a freeze holds.
#[derive(Debug, Clone)]
pub enum Window {
    Range {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    /// Starts at every occurrence of `cron` in `tz` and lasts `duration`.
    Cron {
        cron: Box<croner::Cron>,
        expression: String,
        duration: Duration,
        tz: chrono_tz::Tz,
    },
}

#[derive(Debug, Clone)]
pub struct Freeze {
    pub name: String,
    pub reason: String,
    pub window: Window,
    pub groups: Vec<String>,
    pub namespaces: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub scale_downs_only: bool,
}

/// Parses a cron expression (5 fields, or 6 with seconds); the error says why.
pub fn parse_cron(expression: &str) -> Result<croner::Cron, String> {
    croner::Cron::from_str(expression).map_err(|e| e.to_string())
}

/// Parses an IANA time zone name (`Europe/Berlin`, `UTC`).
pub fn parse_tz(name: &str) -> Result<chrono_tz::Tz, String> {
    chrono_tz::Tz::from_str(name).map_err(|e| e.to_string())
}

impl Freeze {
    /// The open window at `now` as `(start, end)`, if the freeze holds then.
    pub fn open_at(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match &self.window {
            Window::Range { from, to } => (*from <= now && now < *to).then_some((*from, *to)),
            Window::Cron {
                cron, duration, tz, ..
            } => {
                // The latest start at or before now, in the zone's local time (so "18:00 on
                // Fridays" stays 18:00 across daylight saving changes).
                let local = now.with_timezone(tz);
                let start = cron.find_previous_occurrence(&local, true).ok()?;
                let start = start.with_timezone(&Utc);
                let end = start + *duration;
                (start <= now && now < end).then_some((start, end))
            }
        }
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Publishes the freezes open at the change set's `now` as `context.freezes` (only when the
/// config has freezes, so other runs keep their context as it was).
pub fn publish(set: &mut ChangeSet, freezes: &[Freeze]) {
    if freezes.is_empty() {
        return;
    }
    let Some(now) = crate::sources::parse_time(&set.now) else {
        return;
    };
    let open: Vec<Value> = freezes
        .iter()
        .filter_map(|f| {
            let (start, end) = f.open_at(now)?;
            let window = match &f.window {
                Window::Range { .. } => json!({"type": "range"}),
                Window::Cron { expression, tz, .. } => {
                    json!({"type": "cron", "cron": expression, "timezone": tz.name()})
                }
            };
            Some(json!({
                "name": f.name,
                "reason": f.reason,
                "from": time(start),
                "until": time(end),
                "window": window,
                "groups": f.groups,
                "namespaces": f.namespaces,
                "labels": f.labels,
                "scale_downs_only": f.scale_downs_only,
            }))
        })
        .collect();
    if let Some(ctx) = set.context.as_object_mut() {
        ctx.insert("freezes".into(), Value::Array(open));
    } else {
        set.context = json!({ "freezes": open });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str) -> DateTime<Utc> {
        crate::sources::parse_time(t).unwrap()
    }

    fn weekly(expression: &str, hours: i64, tz: &str) -> Freeze {
        Freeze {
            name: "weekend".into(),
            reason: "no changes over the weekend".into(),
            window: Window::Cron {
                cron: Box::new(parse_cron(expression).unwrap()),
                expression: expression.into(),
                duration: Duration::hours(hours),
                tz: parse_tz(tz).unwrap(),
            },
            groups: Vec::new(),
            namespaces: Vec::new(),
            labels: BTreeMap::new(),
            scale_downs_only: false,
        }
    }

    #[test]
    fn ranges_are_half_open() {
        let f = Freeze {
            window: Window::Range {
                from: at("2026-11-27T00:00:00-05:00"),
                to: at("2026-12-01T00:00:00-05:00"),
            },
            ..weekly("0 18 * * FRI", 1, "UTC")
        };
        assert!(f.open_at(at("2026-11-27T05:00:00Z")).is_some());
        assert!(f.open_at(at("2026-11-27T04:59:59Z")).is_none());
        assert!(f.open_at(at("2026-12-01T05:00:00Z")).is_none());
    }

    #[test]
    fn cron_windows_follow_local_time_across_daylight_saving() {
        // Friday 18:00 Berlin for 64 hours (to Monday 10:00).
        let f = weekly("0 18 * * FRI", 64, "Europe/Berlin");
        // Summer (CEST, UTC+2): Friday 2026-10-23 18:00 local is 16:00Z.
        assert!(f.open_at(at("2026-10-23T16:00:00Z")).is_some());
        assert!(f.open_at(at("2026-10-23T15:59:00Z")).is_none());
        // The weekend daylight saving ends (2026-10-25): the window opened at 16:00Z and lasts
        // 64 hours of real time.
        assert_eq!(
            f.open_at(at("2026-10-26T07:59:00Z")).map(|(s, _)| s),
            Some(at("2026-10-23T16:00:00Z"))
        );
        // Winter (CET, UTC+1): Friday 2026-10-30 18:00 local is 17:00Z.
        assert!(f.open_at(at("2026-10-30T16:30:00Z")).is_none());
        assert!(f.open_at(at("2026-10-30T17:00:00Z")).is_some());
        // Midweek: closed.
        assert!(f.open_at(at("2026-10-28T12:00:00Z")).is_none());
    }

    #[test]
    fn bad_expressions_and_zones_are_errors() {
        assert!(parse_cron("0 18 * * FRYDAY").is_err());
        assert!(parse_tz("Mars/Olympus").is_err());
    }
}
