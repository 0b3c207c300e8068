//! One conformance suite for the item store port, run against both adapters: the embedded SQLite
//! store and DynamoDB (a real DynamoDB-API server on loopback, moto_server).

use std::sync::Arc;

use latchkey::store::{DeleteCondition, Due, DueQueue, Item, ItemStore, Key, StoreError};
use latchkey::ManualClock;
use serde_json::{json, Map, Value};

/// What each case gets: a fresh, empty store and the clock it reads.
pub struct Fixture {
    pub store: Arc<dyn ItemStore>,
    pub clock: ManualClock,
}

fn attrs(value: Value) -> Map<String, Value> {
    value.as_object().expect("object").clone()
}

fn item(pk: &str, sk: &str, value: Value) -> Item {
    Item::new(Key::new(pk, sk), attrs(value))
}

mod cases {
    use super::*;

    pub async fn get_of_a_missing_item_is_none(f: Fixture) {
        assert_eq!(f.store.get(&Key::new("P", "missing")).await.unwrap(), None);
    }

    pub async fn attributes_round_trip(f: Fixture) {
        let value = json!({
            "name": "Acme", "count": 42, "ratio": 0.5, "on": true, "none": null,
            "list": ["a", 1, {"b": false}], "nested": {"deep": {"x": "y"}}, "empty": ""
        });
        f.store.put_if_absent(&item("P", "A", value.clone())).await.unwrap();
        let read = f.store.get(&Key::new("P", "A")).await.unwrap().expect("item");
        assert_eq!(Value::Object(read.attrs), value);
        assert_eq!(read.version, 1);
        assert_eq!(read.expires_at, None);
    }

    pub async fn put_if_absent_refuses_a_live_item_and_changes_nothing(f: Fixture) {
        f.store.put_if_absent(&item("P", "A", json!({"v": "first"}))).await.unwrap();
        let second = f.store.put_if_absent(&item("P", "A", json!({"v": "second"}))).await;
        assert!(matches!(second, Err(StoreError::ConditionFailed)), "{second:?}");
        let read = f.store.get(&Key::new("P", "A")).await.unwrap().unwrap();
        assert_eq!(read.attrs["v"], "first");
    }

    pub async fn put_if_absent_replaces_an_expired_item(f: Fixture) {
        let now = latchkey::Clock::now(&f.clock);
        f.store.put_if_absent(&item("P", "A", json!({"v": "old"})).expiring_at(now.plus_secs(10))).await.unwrap();
        f.clock.advance(11);
        f.store.put_if_absent(&item("P", "A", json!({"v": "new"}))).await.unwrap();
        assert_eq!(f.store.get(&Key::new("P", "A")).await.unwrap().unwrap().attrs["v"], "new");
    }

    pub async fn put_if_version_moves_the_version_and_refuses_stale_writers(f: Fixture) {
        f.store.put_if_absent(&item("P", "A", json!({"n": 0}))).await.unwrap();
        let mut read = f.store.get(&Key::new("P", "A")).await.unwrap().unwrap();
        read.attrs.insert("n".into(), json!(1));
        assert_eq!(f.store.put_if_version(&read).await.unwrap(), 2);
        // `read` still names version 1: a second writer with that view must lose.
        read.attrs.insert("n".into(), json!(99));
        assert!(matches!(f.store.put_if_version(&read).await, Err(StoreError::ConditionFailed)));
        let now = f.store.get(&Key::new("P", "A")).await.unwrap().unwrap();
        assert_eq!((now.version, now.attrs["n"].clone()), (2, json!(1)));
        let missing = item("P", "nothing", json!({}));
        assert!(matches!(f.store.put_if_version(&missing).await, Err(StoreError::ConditionFailed)));
    }

    pub async fn twenty_concurrent_put_if_version_have_exactly_one_winner(f: Fixture) {
        f.store.put_if_absent(&item("P", "lease", json!({"holder": "none"}))).await.unwrap();
        let read = f.store.get(&Key::new("P", "lease")).await.unwrap().unwrap();
        let attempts = (0..20).map(|i| {
            let store = f.store.clone();
            let mut mine = read.clone();
            mine.attrs.insert("holder".into(), json!(i));
            tokio::spawn(async move { store.put_if_version(&mine).await })
        });
        let results = futures::future::join_all(attempts).await;
        let winners = results.iter().filter(|r| matches!(r, Ok(Ok(2)))).count();
        let losers = results.iter().filter(|r| matches!(r, Ok(Err(StoreError::ConditionFailed)))).count();
        assert_eq!((winners, losers), (1, 19), "{results:?}");
        assert_eq!(f.store.get(&Key::new("P", "lease")).await.unwrap().unwrap().version, 2);
    }

    pub async fn put_overwrites_whatever_is_there(f: Fixture) {
        f.store.put_if_absent(&item("P", "A", json!({"v": 1}))).await.unwrap();
        let mut replacement = item("P", "A", json!({"w": 2}));
        replacement.version = 7;
        f.store.put(&replacement).await.unwrap();
        let read = f.store.get(&Key::new("P", "A")).await.unwrap().unwrap();
        assert_eq!((read.version, Value::Object(read.attrs)), (7, json!({"w": 2})));
    }

    pub async fn delete_if_checks_its_condition(f: Fixture) {
        f.store.put_if_absent(&item("P", "A", json!({}))).await.unwrap();
        assert!(matches!(f.store.delete_if(&Key::new("P", "A"), DeleteCondition::Version(5)).await, Err(StoreError::ConditionFailed)));
        assert!(f.store.get(&Key::new("P", "A")).await.unwrap().is_some(), "a failed delete deletes nothing");
        f.store.delete_if(&Key::new("P", "A"), DeleteCondition::Version(1)).await.unwrap();
        assert!(f.store.get(&Key::new("P", "A")).await.unwrap().is_none());
        assert!(matches!(f.store.delete_if(&Key::new("P", "A"), DeleteCondition::Exists).await, Err(StoreError::ConditionFailed)));
        f.store.put_if_absent(&item("P", "B", json!({}))).await.unwrap();
        f.store.delete_if(&Key::new("P", "B"), DeleteCondition::Exists).await.unwrap();
    }

    pub async fn take_returns_the_item_once(f: Fixture) {
        f.store.put_if_absent(&item("P", "token", json!({"for": "alice"}))).await.unwrap();
        let taken = f.store.take(&Key::new("P", "token")).await.unwrap().expect("first take");
        assert_eq!(taken.attrs["for"], "alice");
        assert_eq!(f.store.take(&Key::new("P", "token")).await.unwrap(), None);
        assert_eq!(f.store.get(&Key::new("P", "token")).await.unwrap(), None);
    }

    pub async fn fifty_concurrent_takes_have_exactly_one_winner(f: Fixture) {
        f.store.put_if_absent(&item("P", "once", json!({"secret": "hash"}))).await.unwrap();
        let takers = (0..50).map(|_| {
            let store = f.store.clone();
            tokio::spawn(async move { store.take(&Key::new("P", "once")).await })
        });
        let results = futures::future::join_all(takers).await;
        let winners = results.iter().filter(|r| matches!(r, Ok(Ok(Some(_))))).count();
        let empty = results.iter().filter(|r| matches!(r, Ok(Ok(None)))).count();
        assert_eq!((winners, empty), (1, 49), "{results:?}");
    }

    pub async fn an_expired_item_is_invisible_to_get_take_and_query(f: Fixture) {
        let now = latchkey::Clock::now(&f.clock);
        f.store.put_if_absent(&item("P", "X#1", json!({})).expiring_at(now.plus_secs(60))).await.unwrap();
        f.store.put_if_absent(&item("P", "X#2", json!({}))).await.unwrap();
        assert!(f.store.get(&Key::new("P", "X#1")).await.unwrap().is_some(), "live before expiry");
        f.clock.advance(60);
        assert_eq!(f.store.get(&Key::new("P", "X#1")).await.unwrap(), None);
        assert_eq!(f.store.take(&Key::new("P", "X#1")).await.unwrap(), None);
        let keys: Vec<String> = f.store.query("P", "X#").await.unwrap().into_iter().map(|i| i.key.sk).collect();
        assert_eq!(keys, vec!["X#2"]);
        let mut stale = item("P", "X#1", json!({}));
        stale.version = 1;
        assert!(matches!(f.store.put_if_version(&stale).await, Err(StoreError::ConditionFailed)), "an expired item cannot be updated");
    }

    pub async fn query_reads_one_partition_by_prefix_in_order(f: Fixture) {
        for sk in ["CONN#b", "CONN#a", "CONN#c", "KEY#a", "CONNX"] {
            f.store.put_if_absent(&item("P1", sk, json!({"name": sk}))).await.unwrap();
        }
        f.store.put_if_absent(&item("P2", "CONN#z", json!({}))).await.unwrap();
        let keys: Vec<String> = f.store.query("P1", "CONN#").await.unwrap().into_iter().map(|i| i.key.sk).collect();
        assert_eq!(keys, vec!["CONN#a", "CONN#b", "CONN#c"]);
        assert!(f.store.query("P3", "").await.unwrap().is_empty());
        assert_eq!(f.store.query("P1", "").await.unwrap().len(), 5);
    }

    pub async fn query_reads_past_one_page(f: Fixture) {
        // DynamoDB answers at most 1 MB per page: 40 items of 30 KB need several pages.
        let blob = "x".repeat(30 * 1024);
        for i in 0..40 {
            f.store.put(&item("BIG", &format!("I#{i:03}"), json!({"blob": blob}))).await.unwrap();
        }
        assert_eq!(f.store.query("BIG", "I#").await.unwrap().len(), 40);
    }

    pub async fn an_item_over_400_kb_is_too_large_on_both(f: Fixture) {
        let big = "x".repeat(401 * 1024);
        let result = f.store.put_if_absent(&item("P", "BIG", json!({"blob": big}))).await;
        assert!(matches!(result, Err(StoreError::TooLarge(_))), "{result:?}");
        assert_eq!(f.store.get(&Key::new("P", "BIG")).await.unwrap(), None, "nothing was written");
        let fits = "x".repeat(300 * 1024);
        f.store.put_if_absent(&item("P", "FITS", json!({"blob": fits}))).await.unwrap();
    }

    pub async fn reserved_attribute_names_are_refused(f: Fixture) {
        let result = f.store.put_if_absent(&item("P", "A", json!({"version": 5}))).await;
        assert!(matches!(result, Err(StoreError::Codec(_))), "{result:?}");
        assert_eq!(f.store.get(&Key::new("P", "A")).await.unwrap(), None);
        let result = f.store.put_if_absent(&item("P", "B", json!({"due_at": 5}))).await;
        assert!(matches!(result, Err(StoreError::Codec(_))), "the due index's attributes are the store's: {result:?}");
    }

    pub async fn query_page_walks_a_partition_a_page_at_a_time(f: Fixture) {
        let now = latchkey::Clock::now(&f.clock);
        for sk in ["C#a", "C#b", "C#c", "C#d", "C#e", "C#f", "C#g", "D#a"] {
            f.store.put(&item("P1", sk, json!({}))).await.unwrap();
        }
        f.store.put(&item("P1", "C#ba", json!({})).expiring_at(now.plus_secs(1))).await.unwrap();
        f.store.put(&item("P2", "C#z", json!({}))).await.unwrap();
        f.clock.advance(1);
        let (mut seen, mut after, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let page = f.store.query_page("P1", "C#", after.as_deref(), 3).await.unwrap();
            assert!(page.items.len() <= 3);
            seen.extend(page.items.into_iter().map(|i| i.key.sk));
            pages += 1;
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, vec!["C#a", "C#b", "C#c", "C#d", "C#e", "C#f", "C#g"], "in order, each once, the expired one left out");
        assert_eq!(pages, 3);
        let rest = f.store.query_page("P1", "C#", Some("C#e"), 10).await.unwrap();
        let keys: Vec<String> = rest.items.into_iter().map(|i| i.key.sk).collect();
        assert_eq!((keys, rest.next), (vec!["C#f".to_owned(), "C#g".to_owned()], None));
        assert!(f.store.query_page("P3", "C#", None, 5).await.unwrap().items.is_empty());
    }

    fn due_item(sk: &str, queue: DueQueue, at: latchkey::Timestamp) -> Item {
        Item { due: Some(Due { queue, at }), ..item("Q", sk, json!({"n": sk})) }
    }

    pub async fn due_reads_what_is_due_soonest_first_and_follows_every_write(f: Fixture) {
        let now = latchkey::Clock::now(&f.clock);
        f.store.put_if_absent(&due_item("late", DueQueue::Refresh, now.plus_secs(30))).await.unwrap();
        f.store.put_if_absent(&due_item("early", DueQueue::Refresh, now.plus_secs(10))).await.unwrap();
        f.store.put_if_absent(&due_item("middle", DueQueue::Refresh, now.plus_secs(20))).await.unwrap();
        f.store.put_if_absent(&due_item("hook", DueQueue::Webhook, now)).await.unwrap();
        f.store.put_if_absent(&item("Q", "none", json!({}))).await.unwrap();
        let due = |until: i64, limit: usize| {
            let store = f.store.clone();
            async move {
                store.due(DueQueue::Refresh, now.plus_secs(until), limit).await.unwrap().into_iter().map(|d| (d.key.sk, d.at.0 - now.0)).collect::<Vec<_>>()
            }
        };
        assert_eq!(due(20, 10).await, vec![("early".to_owned(), 10), ("middle".to_owned(), 20)]);
        assert_eq!(due(100, 1).await, vec![("early".to_owned(), 10)], "the soonest first");
        assert!(due(9, 10).await.is_empty(), "nothing due yet");
        let read = f.store.get(&Key::new("Q", "early")).await.unwrap().unwrap();
        assert_eq!(read.due, Some(Due { queue: DueQueue::Refresh, at: now.plus_secs(10) }), "the due time round-trips");
        // A write that settles the item takes it out; one that moves it moves it.
        f.store.put_if_version(&Item { due: None, ..read }).await.unwrap();
        let mut late = f.store.get(&Key::new("Q", "late")).await.unwrap().unwrap();
        late.due = Some(Due { queue: DueQueue::Refresh, at: now.plus_secs(5) });
        f.store.put_if_version(&late).await.unwrap();
        assert_eq!(due(100, 10).await, vec![("late".to_owned(), 5), ("middle".to_owned(), 20)]);
        let hooks = f.store.due(DueQueue::Webhook, now, 10).await.unwrap();
        assert_eq!(hooks.iter().map(|d| d.key.sk.as_str()).collect::<Vec<_>>(), vec!["hook"], "each queue is its own");
        f.store.put(&due_item("gone", DueQueue::Refresh, now).expiring_at(now.plus_secs(1))).await.unwrap();
        f.clock.advance(1);
        assert!(!due(100, 10).await.iter().any(|(sk, _)| sk == "gone"), "an expired item is not due");
        f.store.delete_if(&Key::new("Q", "middle"), DeleteCondition::Exists).await.unwrap();
        assert_eq!(due(100, 10).await, vec![("late".to_owned(), 5)]);
    }

    pub async fn due_takes_the_soonest_of_many_across_the_index(f: Fixture) {
        let now = latchkey::Clock::now(&f.clock);
        for i in 0..60 {
            let at = if i % 2 == 0 { now.plus_secs(i) } else { now.plus_secs(1000) };
            f.store.put(&due_item(&format!("I#{i:02}"), DueQueue::Refresh, at)).await.unwrap();
        }
        let due = f.store.due(DueQueue::Refresh, now.plus_secs(100), 20).await.unwrap();
        let expected: Vec<String> = (0..40).step_by(2).map(|i| format!("I#{i:02}")).collect();
        assert_eq!(due.into_iter().map(|d| d.key.sk).collect::<Vec<_>>(), expected);
        assert_eq!(f.store.due(DueQueue::Refresh, now.plus_secs(100), 100).await.unwrap().len(), 30, "only what is due, however many are stored");
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let clock = latchkey::ManualClock::starting_now();
                    let store = std::sync::Arc::new(crate::helpers::sqlite_store(std::sync::Arc::new(clock.clone())));
                    super::cases::$case(super::Fixture { store, clock }).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let clock = latchkey::ManualClock::starting_now();
                    let store = std::sync::Arc::new(crate::helpers::dynamo_store(std::sync::Arc::new(clock.clone())).await);
                    super::cases::$case(super::Fixture { store, clock }).await;
                }
            )*
        }
    };
}

conformance!(
    get_of_a_missing_item_is_none,
    attributes_round_trip,
    put_if_absent_refuses_a_live_item_and_changes_nothing,
    put_if_absent_replaces_an_expired_item,
    put_if_version_moves_the_version_and_refuses_stale_writers,
    twenty_concurrent_put_if_version_have_exactly_one_winner,
    put_overwrites_whatever_is_there,
    delete_if_checks_its_condition,
    take_returns_the_item_once,
    fifty_concurrent_takes_have_exactly_one_winner,
    an_expired_item_is_invisible_to_get_take_and_query,
    query_reads_one_partition_by_prefix_in_order,
    query_reads_past_one_page,
    reserved_attribute_names_are_refused,
    an_item_over_400_kb_is_too_large_on_both,
    query_page_walks_a_partition_a_page_at_a_time,
    due_reads_what_is_due_soonest_first_and_follows_every_write,
    due_takes_the_soonest_of_many_across_the_index,
);
