//! Hub rules without sockets: limits, listing, attachments, auto-response, the output gate.

use super::*;
use crate::ids::IdKey;

fn hub(limits: WsLimits) -> Hub {
    Hub::new(limits, Arc::new(crate::alarms::SystemClock))
}

fn key(name: &str) -> Key {
    (0, IdKey::from_bytes(&[3; 32]).unwrap().id_from_name(name))
}

#[test]
fn tags_are_limited_to_ten_of_256_characters() {
    let hub = hub(WsLimits::default());
    let ten: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    assert!(hub.accept(key("a"), ten.clone()).is_ok());
    let mut eleven = ten;
    eleven.push("x".into());
    let err = hub.accept(key("a"), eleven).unwrap_err().to_string();
    assert_eq!(
        err,
        "a WebSocket cannot have more than 10 tags; 11 were given"
    );
    assert!(hub.accept(key("a"), vec!["é".repeat(256)]).is_ok());
    let err = hub
        .accept(key("a"), vec!["é".repeat(257)])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "tag \"{}…\" is longer than the maximum of 256 characters",
            "é".repeat(32)
        )
    );
}

#[test]
fn sockets_per_object_are_capped() {
    let hub = hub(WsLimits {
        max_sockets_per_object: 2,
        ..WsLimits::default()
    });
    hub.accept(key("a"), vec![]).unwrap();
    hub.accept(key("a"), vec![]).unwrap();
    assert!(hub
        .accept(key("a"), vec![])
        .unwrap_err()
        .to_string()
        .contains("only 2 WebSockets"));
    assert!(
        hub.accept(key("b"), vec![]).is_ok(),
        "the cap is per object"
    );
}

#[test]
fn listing_by_tag_excludes_closing_sockets_and_other_objects() {
    let hub = hub(WsLimits::default());
    let a = hub.accept(key("room"), vec!["red".into()]).unwrap();
    let b = hub.accept(key("room"), vec!["blue".into()]).unwrap();
    let _other = hub.accept(key("elsewhere"), vec!["red".into()]).unwrap();
    assert_eq!(hub.list(key("room"), None), vec![a, b]);
    assert_eq!(hub.list(key("room"), Some("red")), vec![a]);
    hub.mark_closing(a);
    assert_eq!(hub.list(key("room"), None), vec![b]);
    assert_eq!(
        hub.tags(key("room"), a).unwrap(),
        vec!["red".to_string()],
        "still readable while closing"
    );
    hub.remove(a);
    assert!(hub.tags(key("room"), a).is_err());
    assert!(
        hub.tags(key("elsewhere"), b).is_err(),
        "another object's socket is not reachable"
    );
}

#[test]
fn attachments_are_limited_to_16_kib() {
    let hub = hub(WsLimits::default());
    let s = hub.accept(key("a"), vec![]).unwrap();
    hub.set_attachment(key("a"), s, vec![1; 16 * 1024]).unwrap();
    let err = hub
        .set_attachment(key("a"), s, vec![1; 16 * 1024 + 1])
        .unwrap_err()
        .to_string();
    assert!(err.contains("16384"), "{err}");
    assert_eq!(
        hub.attachment(key("a"), s).unwrap().unwrap().len(),
        16 * 1024
    );
}

#[test]
fn auto_response_is_limited_and_matches_exactly() {
    let hub = hub(WsLimits::default());
    let s = hub.accept(key("a"), vec![]).unwrap();
    assert!(hub
        .set_auto_response(key("a"), Some(("p".repeat(2049), "q".into())))
        .is_err());
    assert!(hub
        .set_auto_response(key("a"), Some(("p".repeat(2048), "q".into())))
        .is_ok());
    hub.set_auto_response(key("a"), Some(("ping".into(), "pong".into())))
        .unwrap();
    assert_eq!(hub.auto_response(s, "ping", 42), Some("pong".into()));
    assert_eq!(hub.auto_response(s, "ping ", 43), None);
    assert_eq!(hub.auto_response_timestamp(key("a"), s).unwrap(), Some(42));
}

#[test]
fn flushed_messages_arrive_in_order_and_a_close_ends_sending() {
    let hub = hub(WsLimits::default());
    let s = hub.accept(key("a"), vec![]).unwrap();
    let mut rx = hub.open(s).unwrap();
    let text = |t: &str| Outbound::message(WsMessage::Text(t.into()));
    hub.flush(vec![
        (s, text("1")),
        (s, text("2")),
        (s, Outbound::Close(1000, "bye".into())),
        (s, text("3")),
    ]);
    let mut got = Vec::new();
    while let Ok(message) = rx.try_recv() {
        got.push(format!("{message:?}"));
    }
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[2].contains("Close"));
}

/// The auto-response is kept while the object is live or has sockets (hibernation), and
/// forgotten once neither holds, so that stopped objects leave nothing in the hub.
#[test]
fn auto_response_is_forgotten_when_neither_the_object_nor_a_socket_remains() {
    let hub = hub(WsLimits::default());
    let pair = Some(("ping".to_string(), "pong".to_string()));
    // Set by a live object without sockets: kept until the object stops.
    hub.set_auto_response(key("a"), pair.clone()).unwrap();
    assert!(hub.lock().objects.contains_key(&key("a")));
    hub.object_stopped(key("a"));
    assert!(!hub.lock().objects.contains_key(&key("a")));
    // With a socket: the object hibernates and the socket still gets the answer.
    hub.set_auto_response(key("b"), pair.clone()).unwrap();
    let s = hub.accept(key("b"), vec![]).unwrap();
    hub.object_stopped(key("b"));
    assert_eq!(hub.auto_response(s, "ping", 1), Some("pong".into()));
    // The last socket of the hibernated object goes: nothing is left.
    hub.remove(s);
    assert!(!hub.lock().objects.contains_key(&key("b")));
    // A live object keeps it when its last socket goes.
    hub.set_auto_response(key("c"), pair).unwrap();
    let s = hub.accept(key("c"), vec![]).unwrap();
    hub.remove(s);
    assert!(hub.lock().objects.contains_key(&key("c")));
    let s = hub.accept(key("c"), vec![]).unwrap();
    assert_eq!(hub.auto_response(s, "ping", 2), Some("pong".into()));
}

#[test]
fn a_socket_whose_queue_goes_over_its_bound_is_told_to_close_and_takes_no_more() {
    let hub = hub(WsLimits {
        max_queued_bytes: 100,
        ..WsLimits::default()
    });
    let id = hub.accept(key("a"), vec![]).unwrap();
    let mut queue = hub.open(id).unwrap();
    let text = |n: usize| Outbound::message(WsMessage::Text("x".repeat(n)));
    // One message over the bound is taken into an empty queue.
    hub.flush(vec![(id, text(150))]);
    assert!(!queue.overflow.is_cancelled());
    let first = queue.try_recv().unwrap();
    queue.sent(super::queue::bytes(&first));
    hub.flush(vec![(id, text(60)), (id, text(30)), (id, text(20))]);
    assert!(queue.overflow.is_cancelled(), "60 + 30 + 20 > 100");
    assert_eq!(super::queue::bytes(&queue.try_recv().unwrap()), 60);
    assert_eq!(super::queue::bytes(&queue.try_recv().unwrap()), 30);
    assert!(queue.try_recv().is_err(), "nothing after the overflow");
    assert!(hub.list(key("a"), None).is_empty(), "no longer listed");
}
