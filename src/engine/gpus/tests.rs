use super::*;

#[test]
fn the_ledger_gives_the_lowest_free_devices_and_takes_them_back() {
    let inventory = GpuInventory::discover(&GpuSetting::Fake(3));
    assert_eq!(inventory.describe(), "3 GPUs (fake GPU 0)");
    let mut ledger = GpuLedger::new(&inventory);
    assert_eq!(ledger.take("a", 2), Some(vec![0, 1]));
    assert_eq!(ledger.take("b", 2), None, "only one is free");
    assert_eq!(
        ledger.take("c", 0),
        Some(vec![]),
        "no GPU asked, none needed"
    );
    assert_eq!(ledger.holders(), [("a", &[0u32, 1][..])]);
    ledger.release("a");
    assert_eq!(ledger.free_count(), 3);
    ledger.hold("d", devices_in("2, 0"));
    assert_eq!(ledger.take("e", 1), Some(vec![1]));
    assert_eq!(visible_devices(&[0, 2]), "0,2");
}

#[test]
fn a_machine_without_a_driver_has_no_gpus_and_says_why() {
    let none = GpuInventory::discover(&GpuSetting::Fake(0));
    assert!(none.devices.is_empty());
    assert!(
        none.describe().starts_with("0 GPUs ("),
        "{}",
        none.describe()
    );
}
