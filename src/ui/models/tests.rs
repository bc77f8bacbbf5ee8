//! The tab's pending and failed changes.

use super::*;
use crate::domain::{Model, Version, VersionState};

fn shop(default: &str) -> ModelView {
    let version = |name: &str| Version {
        name: name.into(),
        state: VersionState::Ready,
        is_default: name == default,
        ..Version::default()
    };
    ModelView {
        connection: ConnectionId::local(),
        model: Model {
            name: "shop".into(),
            ..Model::default()
        },
        versions: vec![version("v1"), version("v2")],
    }
}

#[test]
fn a_default_switch_is_pending_until_listed_and_a_refusal_shows_on_its_row() {
    let backend = Backend::disconnected();
    let local = ConnectionId::local();
    let mut tab = ModelsTab::default();
    let mut models = state::Models::default();
    let list = |models: &mut state::Models, tab: &mut ModelsTab, default: &str| {
        let update = Update::Models {
            connection: ConnectionId::local(),
            models: vec![shop(default)],
        };
        models.on_update(&update);
        tab.on_update(&update, models, &Backend::disconnected());
    };
    list(&mut models, &mut tab, "v1");
    let change = ModelChange::SetDefault {
        model: "shop".into(),
        version: "v2".into(),
    };
    tab.carry_out(
        ModelsAction::Change(local.clone(), change.clone()),
        &backend,
    );
    let key = (local.clone(), "shop".to_owned(), "v2".to_owned());
    assert!(tab.switching.contains(&key), "the row shows a spinner");
    // The answer alone does not end it: the list showing the new default does.
    tab.on_update(
        &Update::ModelChanged {
            connection: local.clone(),
            change: change.clone(),
            result: Ok("v2 is now the default of shop.".into()),
        },
        &models,
        &backend,
    );
    assert!(tab.switching.contains(&key));
    list(&mut models, &mut tab, "v2");
    assert!(!tab.switching.contains(&key));

    // A refused change ends the spinner and puts the reason on the row.
    tab.carry_out(
        ModelsAction::Change(local.clone(), change.clone()),
        &backend,
    );
    tab.on_update(
        &Update::ModelChanged {
            connection: local,
            change,
            result: Err("version \"v2\" is FAILED".into()),
        },
        &models,
        &backend,
    );
    assert!(!tab.switching.contains(&key));
    assert_eq!(tab.failed[&key], "version \"v2\" is FAILED");
}
