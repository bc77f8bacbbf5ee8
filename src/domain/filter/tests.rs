//! Tests of `domain/filter`.

use super::*;
use std::collections::BTreeMap;

struct Item {
    name: &'static str,
    fields: BTreeMap<&'static str, FieldValue<'static>>,
}

impl Filterable for Item {
    fn field_kind(key: &str) -> Option<FieldKind> {
        match key {
            "name" | "state" => Some(FieldKind::Text),
            "created" => Some(FieldKind::Time),
            k if k.starts_with("labels.") => Some(FieldKind::Text),
            _ => None,
        }
    }
    fn known_fields() -> Vec<&'static str> {
        vec!["name", "state", "created", "labels.*"]
    }
    fn field(&self, key: &str) -> FieldValue<'_> {
        self.fields.get(key).cloned().unwrap_or(FieldValue::Missing)
    }
}

fn item(name: &'static str, state: &'static str, day: u32, team: Option<&'static str>) -> Item {
    let mut fields = BTreeMap::new();
    fields.insert("name", FieldValue::Text(Cow::Borrowed(name)));
    fields.insert("state", FieldValue::Text(Cow::Borrowed(state)));
    let created = format!("2026-11-{day:02}T12:00:00Z");
    fields.insert("created", FieldValue::Time(parse_time(&created).unwrap()));
    if let Some(team) = team {
        fields.insert("labels.team", FieldValue::Text(Cow::Borrowed(team)));
    }
    Item { name, fields }
}

fn items() -> Vec<Item> {
    vec![
        item("train_a", "RUNNING", 20, Some("vision")),
        item("train_b", "SUCCEEDED", 21, Some("nlp")),
        item("eval_c", "FAILED", 22, None),
        item("train_d", "FAILED", 23, Some("vision")),
    ]
}

fn select(filter: &str) -> Vec<&'static str> {
    let f = Filter::parse::<Item>(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    items()
        .iter()
        .filter(|i| f.matches(*i))
        .map(|i| i.name)
        .collect()
}

#[test]
fn equality_ignores_case_and_takes_wildcards() {
    assert_eq!(select("state=failed"), ["eval_c", "train_d"]);
    assert_eq!(select("name=train_*"), ["train_a", "train_b", "train_d"]);
    assert_eq!(select("name=*_c"), ["eval_c"]);
    assert_eq!(select("name=train"), Vec::<&str>::new());
    assert_eq!(select("state != FAILED"), ["train_a", "train_b"]);
}

#[test]
fn has_matches_parts_and_presence() {
    assert_eq!(select("name:rain_b"), ["train_b"]);
    assert_eq!(select("labels.team:*"), ["train_a", "train_b", "train_d"]);
    assert_eq!(select("NOT labels.team:*"), ["eval_c"]);
    assert_eq!(select("labels.team=vision"), ["train_a", "train_d"]);
    assert_eq!(select("labels.team!=vision"), ["train_b", "eval_c"]);
}

#[test]
fn times_compare_as_times() {
    assert_eq!(select("created>2026-11-22"), ["eval_c", "train_d"]);
    assert_eq!(
        select("created>=2026-11-22T12:00:00Z"),
        ["eval_c", "train_d"]
    );
    assert_eq!(select("created<2026-11-21T00:00:00+01:00"), ["train_a"]);
    assert_eq!(
        select("created<=\"2026-11-21T12:00:00Z\""),
        ["train_a", "train_b"]
    );
}

#[test]
fn boolean_operators_follow_gcloud_precedence() {
    // OR binds tighter than AND, as in gcloud.
    assert_eq!(
        select("labels.team=vision AND state=RUNNING OR state=SUCCEEDED"),
        ["train_a"]
    );
    assert_eq!(
        select("(labels.team=vision AND state=RUNNING) OR state=SUCCEEDED"),
        ["train_a", "train_b"]
    );
    assert_eq!(select("state=FAILED labels.team=vision"), ["train_d"]);
    assert_eq!(select("-state=FAILED"), ["train_a", "train_b"]);
    assert_eq!(select("NOT (state=FAILED OR state=RUNNING)"), ["train_b"]);
    assert_eq!(select("name='train_a'"), ["train_a"]);
    assert_eq!(select("  "), ["train_a", "train_b", "eval_c", "train_d"]);
}

fn error(filter: &str) -> FilterError {
    Filter::parse::<Item>(filter).unwrap_err()
}

#[test]
fn deep_or_huge_filters_are_refused_without_recursing() {
    let parens = format!("{}state=RUNNING{}", "(".repeat(5_000), ")".repeat(5_000));
    assert!(error(&parens).message.contains("more than 32 deep"));
    let nots = format!("{}state=RUNNING", "NOT ".repeat(2_000));
    assert!(error(&nots).message.contains("deep"));
    let dashes = format!("{}state=RUNNING", "-".repeat(10_000));
    assert!(error(&dashes).message.contains("deep"));
    let ok = format!("{}state=RUNNING{}", "(".repeat(20), ")".repeat(20));
    assert_eq!(select(&ok), ["train_a"]);
    let huge = vec!["state=RUNNING"; 2_000].join(" OR ");
    let e = error(&huge);
    assert!(e.message.contains("at most 16384"), "{e}");
    // Within the limit, a long flat filter parses and matches.
    let long = vec!["name=nothing"; 500].join(" OR ") + " OR state=RUNNING";
    assert_eq!(select(&long), ["train_a"]);
}

#[test]
fn ranked_fields_compare_by_rank_and_bounds_are_found() {
    struct Entry(i64);
    fn rank(text: &str) -> Option<i64> {
        ["LOW", "MID", "HIGH"]
            .iter()
            .position(|n| n.eq_ignore_ascii_case(text))
            .map(|p| p as i64)
    }
    impl Filterable for Entry {
        fn field_kind(key: &str) -> Option<FieldKind> {
            match key {
                "level" => Some(FieldKind::Rank {
                    rank,
                    names: "LOW, MID or HIGH",
                }),
                "at" | "job" => Some(FieldKind::Text),
                "time" => Some(FieldKind::Time),
                _ => None,
            }
        }
        fn known_fields() -> Vec<&'static str> {
            vec!["level"]
        }
        fn field(&self, _: &str) -> FieldValue<'_> {
            FieldValue::Rank(self.0)
        }
    }
    let f = Filter::parse::<Entry>("level>=mid").unwrap();
    assert!(!f.matches(&Entry(0)) && f.matches(&Entry(1)) && f.matches(&Entry(2)));
    assert!(
        Filter::parse::<Entry>("level=HIGH")
            .unwrap()
            .matches(&Entry(2))
    );
    let e = Filter::parse::<Entry>("level>=TOP").unwrap_err();
    assert!(e.message.contains("LOW, MID or HIGH"), "{e}");
    let f = Filter::parse::<Entry>(
        r#"(job="a" OR job="b") AND ((time="2026-11-24T10:00:00Z" AND at>"5") OR time>"2026-11-24T10:00:00Z") AND time<"2026-12-01""#,
    )
    .unwrap();
    assert_eq!(
        f.required_values("job"),
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
    assert_eq!(f.lower_bound("time"), parse_time("2026-11-24T10:00:00Z"));
    let open = Filter::parse::<Entry>(r#"job="a" OR time>"2026-11-24""#).unwrap();
    assert_eq!(open.required_values("job"), None);
    assert_eq!(open.lower_bound("time"), None);
}

#[test]
fn malformed_filters_name_the_position() {
    let e = error("state=");
    assert_eq!(e.position, 6);
    assert!(e.message.contains("expected a value"), "{e}");
    let e = error("state=RUNNING AND");
    assert_eq!(e.position, 14);
    let e = error("(state=RUNNING");
    assert_eq!(e.position, 0);
    assert!(e.message.contains("never closed"));
    let e = error("state=RUNNING)");
    assert_eq!(e.position, 13);
    let e = error("bogus=1");
    assert!(e.message.contains("unknown field \"bogus\""), "{e}");
    assert!(e.message.contains("labels.*"));
    let e = error("created>yesterday");
    assert_eq!(e.position, 8);
    assert!(e.message.contains("needs a time"));
    let e = error("name ~ x");
    assert_eq!(e.position, 5);
    assert!(e.message.contains("expected an operator"));
    let e = error("name=\"open");
    assert_eq!(e.position, 5);
    assert_eq!(
        e.to_string(),
        "filter error at column 6: this quoted value is never closed"
    );
    assert!(error("()").message.contains("empty"));
    assert!(error("NOT").message.contains("NOT needs"));
}
