//! The game example (`examples/game/game.ts`): a lobby creates tic-tac-toe rooms
//! (`newUniqueId`, RPC `setup`) and lists them (RPC `summary`); two WebSocket players play
//! a room to a winner, bad moves are refused with a message, and a room evicted mid-game
//! goes on from the state its constructor's `blockConcurrencyWhile` reloaded.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use crate::harness::{components, eventually, Options, Server};

type Client = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

fn game_server() -> Server {
    let built = components();
    Server::start_with(Options {
        namespace_extra: "bindings = { ROOMS = \"game-room\" }".into(),
        ..Options::with_namespaces(vec![
            ("game-lobby".to_string(), built.game_lobby.clone()),
            ("game-room".to_string(), built.game_room.clone()),
        ])
    })
}

async fn next_json(client: &mut Client) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), client.next())
            .await
            .expect("a message within 30 s")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn join(server: &Server, url: &str, name: &str) -> Client {
    let (client, response) = connect_async(server.ws_url(&format!("{url}?name={name}")))
        .await
        .expect("upgrade");
    assert_eq!(response.status(), 101);
    client
}

async fn send(client: &mut Client, text: &str) {
    client.send(Message::text(text.to_string())).await.unwrap();
}

/// Plays `cell` as `player` and returns the state both players receive.
async fn play(player: &mut Client, other: &mut Client, cell: u64) -> Value {
    send(player, &json!({"type": "move", "cell": cell}).to_string()).await;
    let state = next_json(player).await;
    assert_eq!(state["type"], json!("state"), "{state}");
    assert_eq!(next_json(other).await, state);
    state
}

/// A message that only `player` receives: the error of a refused move.
async fn refused(player: &mut Client, text: &str) -> String {
    send(player, text).await;
    let message = next_json(player).await;
    assert_eq!(message["type"], json!("error"), "{message}");
    message["error"].as_str().unwrap().to_string()
}

async fn create_room(server: &Server, name: &str) -> (String, String) {
    let (status, room) = server
        .post("/game-lobby/main/rooms", json!({ "name": name }))
        .await;
    assert_eq!(status, 201, "{room}");
    assert_eq!(room["name"], json!(name));
    let id = room["id"].as_str().unwrap().to_string();
    assert_eq!(room["url"], json!(format!("/game-room/@{id}/ws")));
    (id, room["url"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_players_play_a_lobby_room_to_a_winner_through_an_eviction() {
    let server = game_server();
    let (first, url) = create_room(&server, "first").await;
    let (second, _) = create_room(&server, "second").await;
    assert_ne!(first, second);

    let mut ann = join(&server, &url, "ann").await;
    assert_eq!(
        next_json(&mut ann).await,
        json!({"type": "joined", "mark": "X", "name": "ann"})
    );
    let waiting = next_json(&mut ann).await;
    assert_eq!(
        (&waiting["status"], &waiting["players"]),
        (&json!("waiting"), &json!(["ann"]))
    );
    assert!(refused(&mut ann, r#"{"type":"move","cell":0}"#)
        .await
        .contains("waiting for a second player"));

    let mut bob = join(&server, &url, "bob").await;
    assert_eq!(
        next_json(&mut bob).await,
        json!({"type": "joined", "mark": "O", "name": "bob"})
    );
    let playing = next_json(&mut bob).await;
    assert_eq!(next_json(&mut ann).await, playing);
    assert_eq!(playing["status"], json!("playing"));
    assert_eq!(playing["turn"], json!("X"));
    assert_eq!(playing["players"], json!(["ann", "bob"]));

    // A third player finds the room full.
    let response = server
        .client
        .get(server.url(&format!("{url}?name=cat")))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("the room is full"),
        "{body}"
    );

    // Bad moves: each gets its reason, only its sender hears of it.
    assert!(refused(&mut bob, r#"{"type":"move","cell":4}"#)
        .await
        .contains("not your turn"));
    assert!(refused(&mut ann, "not json").await.contains("JSON"));
    assert!(refused(&mut ann, r#"{"type":"jump"}"#)
        .await
        .contains("unknown message"));
    assert!(refused(&mut ann, r#"{"type":"move","cell":9}"#)
        .await
        .contains("integer 0-8"));
    assert!(refused(&mut ann, r#"{"type":"move","cell":"a"}"#)
        .await
        .contains("integer 0-8"));

    play(&mut ann, &mut bob, 0).await;
    assert!(refused(&mut bob, r#"{"type":"move","cell":0}"#)
        .await
        .contains("cell 0 is taken by X"));
    let state = play(&mut bob, &mut ann, 3).await;
    assert_eq!(
        state["board"],
        json!(["X", "", "", "O", "", "", "", "", ""])
    );

    // Evicted mid-game: the sockets stay open (Hibernation API); the next move meets a new
    // instance, whose constructor reloaded the board and the players from storage.
    let evictions = "wdo_evictions_total{namespace=\"game-room\"}";
    let before = server.metric(evictions).await;
    let response = server
        .client
        .post(format!(
            "{}/v1/namespaces/game-room/objects/@{first}/evict",
            server.admin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let gone = eventually(Duration::from_secs(30), || async {
        server.metric(evictions).await > before
    })
    .await;
    assert!(gone, "the room was not evicted");
    assert!(refused(&mut bob, r#"{"type":"move","cell":4}"#)
        .await
        .contains("not your turn: it is X's turn"));
    let state = play(&mut ann, &mut bob, 1).await;
    assert_eq!(
        state["board"],
        json!(["X", "X", "", "O", "", "", "", "", ""])
    );
    assert_eq!(state["players"], json!(["ann", "bob"]));
    assert_eq!(state["moves"], json!(3));

    play(&mut bob, &mut ann, 4).await;
    let state = play(&mut ann, &mut bob, 2).await;
    assert_eq!(state["status"], json!("won"));
    assert_eq!(state["winner"], json!("ann"));
    assert_eq!(state["turn"], Value::Null);
    assert!(refused(&mut bob, r#"{"type":"move","cell":8}"#)
        .await
        .contains("the game is over: ann won"));

    // The lobby lists its rooms with their status, asked by RPC.
    let (status, list) = server.get("/game-lobby/main/rooms").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["rooms"],
        json!([
            {"id": first, "name": "first", "status": "won", "players": ["ann", "bob"],
             "turn": null, "winner": "ann", "moves": 5},
            {"id": second, "name": "second", "status": "waiting", "players": [],
             "turn": null, "winner": null, "moves": 0},
        ])
    );
    let (status, one) = server
        .get(&format!("/game-lobby/main/rooms/{second}"))
        .await;
    assert_eq!((status, &one["name"]), (200, &json!("second")));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_to_the_lobby_and_rooms_get_clear_errors() {
    let server = game_server();
    let unknown = "ab".repeat(32);
    let (status, body) = server
        .get(&format!("/game-lobby/main/rooms/{unknown}"))
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("no room"),
        "{body}"
    );
    let (status, body) = server
        .post("/game-lobby/main/rooms", json!({ "name": "" }))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.post_raw("/game-lobby/main/rooms", "{oops").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.get("/game-lobby/main/rooms").await;
    assert_eq!((status, body), (200, json!({"rooms": []})));

    // A room URL without the lobby: the room says where rooms come from.
    let (status, body) = server.get("/game-room/somewhere/state").await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("lobby"), "{body}");
    let (status, _) = server.get("/game-room/@not-an-id/state").await;
    assert_eq!(status, 400);

    let (id, url) = create_room(&server, "solo").await;
    let (status, body) = server.get(&format!("/game-room/@{id}/state")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["board"], json!(["", "", "", "", "", "", "", "", ""]));
    let (status, body) = server.get(&url).await;
    assert_eq!(status, 426, "{body}");
    let (status, body) = server.get(&format!("/game-room/@{id}/nowhere")).await;
    assert_eq!(status, 404, "{body}");
}
