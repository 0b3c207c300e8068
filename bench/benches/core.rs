//! Micro-benchmarks of the CPU work on Latchkey's hot paths, each through Latchkey's own code:
//!
//! - `seal_token` / `open_token`: envelope encryption of a ~40-byte access token with the data key
//!   already cached, which is what every warm token request pays (no KMS call);
//! - `decode_connection_item`: a connection as DynamoDB returns it (an attribute map) to the domain
//!   `Connection`, the one store read of the warm token path;
//! - `verify_jwt`: `token::oidc::verify` of an RS256 caller JWT with the issuer's trust and JWKS
//!   already cached; `verify_jwt_signature_only` is the `jsonwebtoken` part of it alone;
//! - `mint_link_token`: `create_link_token` (`POST /v1/link/token`) over the embedded store;
//!   `mint_link_token_random_only` is its random token and hash alone.
//!
//! Store and KMS round trips are measured end to end by the harness (bench/src); these isolate
//! what Latchkey itself adds. One request at a time runs on a current-thread runtime, as a Lambda
//! instance serves one request at a time.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use latchkey::admin::{self, NewProject};
use latchkey::keyring::{CachePolicy, DataKey, Keyring, LocalKeyProvider};
use latchkey::link::token::{create_link_token, EndUserInput, LinkTokenRequest};
use latchkey::model::link::mint_token;
use latchkey::model::{
    Connection, ConnectionId, ConnectionState, ConnectorUid, ConsumerId, EndUser, EnvironmentName, LinkToken, ProjectId, Record, Stored, Subject, TrustedIssuer,
};
use latchkey::oauth::Credentials;
use latchkey::settings::Settings;
use latchkey::store::{Item, Key, SqliteStore};
use latchkey::{Ports, SystemClock, Timestamp};
use serde_json::{json, Map, Value};
use tokio::runtime::Runtime;

/// A Slack bot token's shape and size (42 bytes).
const ACCESS_TOKEN: &[u8] = b"xoxb-2841937461-7719384028-Hq3kR8vNp2LwYt6";
const APP_ORIGIN: &str = "https://app.example.test";
const AUDIENCE: &str = "latchkey";
const KID: &str = "bench-key-1";

type AttributeMap = HashMap<String, AttributeValue>;

/// A keyring over a random local master key whose cache never lapses, so every measured call is a
/// cache hit. (The production policy renews a data key every 10,000 uses: on Lambda that is a KMS
/// round trip, not part of the warm path measured here.)
fn warm_keyring() -> Keyring {
    let policy = CachePolicy { max_age: Duration::from_secs(24 * 3600), max_uses: u64::MAX, max_entries: 16 };
    Keyring::new(Arc::new(LocalKeyProvider::new(DataKey::generate())), policy)
}

/// A Slack user connection as the link flow stores it.
fn connection() -> Connection {
    let now = Timestamp(1_767_225_600);
    Connection {
        id: ConnectionId::parse("conn_8f3k2m9x1q4w7e5r").unwrap(),
        project_id: ProjectId::generate(),
        environment: EnvironmentName::parse("production").unwrap(),
        connector: ConnectorUid::parse("slack/acme-slack").unwrap(),
        subject: Subject::user(ConsumerId::parse("user-4821").unwrap()),
        end_user: Some(EndUser {
            id: ConsumerId::parse("user-4821").unwrap(),
            email: Some("ada@example.com".into()),
            display_name: Some("Ada Lovelace".into()),
        }),
        installation_id: None,
        state: ConnectionState::Callable,
        credentials: None,
        token_expires_at: Some(now.plus_secs(43_200)),
        token_issued_at: Some(now),
        token_expiry_assumed: false,
        grant_generation: 1,
        refreshable: true,
        scopes: vec!["channels:read".into(), "chat:write".into(), "users:read".into()],
        refresh_lease: None,
        refresh_failures: 0,
        refresh_retry_at: None,
        metadata: json!({"team_id": "T0123ABCD", "team_name": "Acme"}).as_object().unwrap().clone(),
        fields: Default::default(),
        end_user_supplied: Vec::new(),
        created_at: now,
        updated_at: now,
    }
}

fn bench_keyring(c: &mut Criterion, rt: &Runtime) {
    let keyring = warm_keyring();
    let binding = connection().credentials_binding();
    // The first seal wraps a data key and caches it (for sealing and for opening what it sealed).
    let sealed = rt.block_on(keyring.seal(&binding, ACCESS_TOKEN)).unwrap();
    assert_eq!(rt.block_on(keyring.open(&binding, &sealed)).unwrap().expose(), ACCESS_TOKEN);
    let (keyring, binding, sealed) = (&keyring, &binding, &sealed);
    c.bench_function("seal_token", |b| b.to_async(rt).iter(move || keyring.seal(binding, black_box(ACCESS_TOKEN))));
    c.bench_function("open_token", |b| b.to_async(rt).iter(move || keyring.open(binding, black_box(sealed))));
}

/// The item of `connection` as DynamoDB holds it: what `DynamoStore::encode` writes.
fn dynamo_attributes(item: &Item) -> AttributeMap {
    let mut attributes: AttributeMap = serde_dynamo::to_item(&item.attrs).unwrap();
    attributes.insert("pk".into(), AttributeValue::S(item.key.pk.clone()));
    attributes.insert("sk".into(), AttributeValue::S(item.key.sk.clone()));
    attributes.insert("version".into(), AttributeValue::N("7".into()));
    attributes
}

/// What `DynamoStore::get` (its private `decode`) and then `Stored::<Connection>::from_item` do.
fn decode_connection(mut attributes: AttributeMap) -> Stored<Connection> {
    let mut text = |name: &str| match attributes.remove(name) {
        Some(AttributeValue::S(s)) => s,
        _ => panic!("no string {name}"),
    };
    let key = Key::new(text("pk"), text("sk"));
    let version = match attributes.remove("version") {
        Some(AttributeValue::N(n)) => n.parse().unwrap(),
        _ => 1,
    };
    let attrs: Map<String, Value> = serde_dynamo::from_item(attributes).unwrap();
    Stored::from_item(Item { key, version, expires_at: None, due: None, attrs }).unwrap()
}

fn bench_decode(c: &mut Criterion, rt: &Runtime) {
    let keyring = warm_keyring();
    let mut record = connection();
    // Real sealed credentials, so the item has the size and shape of a stored one.
    let mut credentials = Credentials::default();
    credentials.access_token = Some(String::from_utf8(ACCESS_TOKEN.to_vec()).unwrap());
    credentials.refresh_token = Some("xoxe-1-My0xLTI4NDE5Mzc0NjEtNzcxOTM4NDAyOC1yZWZyZXNoLXRva2Vu".into());
    credentials.token_type = Some("Bearer".into());
    record.credentials = Some(rt.block_on(keyring.seal(&record.credentials_binding(), &credentials.to_sealable())).unwrap());
    let stored = dynamo_attributes(&record.to_item().unwrap());
    assert_eq!(decode_connection(stored.clone()).record, record);
    // The clone that feeds each call is setup, not measured.
    c.bench_function("decode_connection_item", |b| b.iter_batched(|| stored.clone(), decode_connection, BatchSize::SmallInput));
}

/// The embedded store and a local key on the wall clock: the local server's wiring.
fn app_state() -> Ports {
    let clock = Arc::new(SystemClock);
    let store = Arc::new(SqliteStore::in_memory(clock.clone()).unwrap());
    let keyring = Keyring::new(Arc::new(LocalKeyProvider::new(DataKey::generate())), CachePolicy::default());
    // The JWKS endpoint below listens on loopback, which the outbound policy refuses unless allowed.
    let settings = Settings { outbound_allowed_hosts: vec!["127.0.0.1".into()], ..Settings::default() };
    Ports::new(settings, store, keyring, clock)
}

/// Serves `body` on a loopback port for any request: the issuer's JWKS endpoint. Returns its URL.
fn serve_json(body: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (mut reader, mut line) = (BufReader::new(&stream), String::new());
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
            let _ = (&stream).write_all(format!("{head}{body}").as_bytes());
        }
    });
    url
}

fn bench_jwt(c: &mut Criterion, rt: &Runtime) {
    // A throwaway RSA-2048 key made for this run (nothing secret is kept in the repository), and
    // its public half published as the JWKS an OIDC issuer (GitHub Actions, GitLab) serves.
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let der: Pkcs8V1Der = pair.as_der().unwrap();
    let lines: Vec<String> = STANDARD.encode(der.as_ref()).as_bytes().chunks(64).map(|l| String::from_utf8(l.to_vec()).unwrap()).collect();
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"));
    let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let (n, e) = (URL_SAFE_NO_PAD.encode(&public.n), URL_SAFE_NO_PAD.encode(&public.e));
    let jwks_url = serve_json(json!({"keys": [{"kty": "RSA", "kid": KID, "use": "sig", "alg": "RS256", "n": n, "e": e}]}).to_string());
    let issuer = jwks_url.trim_end_matches("/.well-known/jwks.json").to_owned();

    let state = app_state();
    rt.block_on(async {
        let new = NewProject { name: "Bench".into(), environments: Vec::new(), allowed_origins: vec![APP_ORIGIN.into()] };
        let project = admin::create_project(&state, new).await.unwrap();
        let trust = TrustedIssuer {
            issuer: issuer.clone(),
            audience: AUDIENCE.into(),
            jwks_url,
            environment_claim: "environment".into(),
            algorithms: vec!["RS256".into()],
            bound_claims: [("sub".to_owned(), "ci-job-*".to_owned())].into(),
            allow_unbound: false,
            user_claim: None,
        };
        admin::trust_issuer(&state, &project.id, trust).await.unwrap();
    });
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({"iss": issuer, "aud": AUDIENCE, "sub": "ci-job-7", "iat": now, "exp": now + 3600, "environment": "production"});
    let header = Header { kid: Some(KID.into()), ..Header::new(Algorithm::RS256) };
    let jwt = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()).unwrap();
    // The first verification fetches the JWKS and caches it and the issuer's trusts; the measured
    // ones are the warm path (both caches outlive this benchmark's few seconds).
    assert!(rt.block_on(latchkey::token::oidc::verify(&state, &jwt)).is_ok(), "the bench JWT must verify");
    let (state_ref, jwt_ref) = (&state, jwt.as_str());
    c.bench_function("verify_jwt", |b| b.to_async(rt).iter(move || latchkey::token::oidc::verify(state_ref, black_box(jwt_ref))));

    // The same checks `oidc.rs` makes, on an already-built key: the signature and claim checks alone.
    let key = DecodingKey::from_rsa_components(&n, &e).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&issuer]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 30;
    c.bench_function("verify_jwt_signature_only", |b| b.iter(|| jsonwebtoken::decode::<Value>(black_box(&jwt), &key, &validation).unwrap()));
}

fn bench_link_token(c: &mut Criterion, rt: &Runtime) {
    let state = app_state();
    let caller = rt.block_on(async {
        let new = NewProject { name: "Bench".into(), environments: Vec::new(), allowed_origins: vec![APP_ORIGIN.into()] };
        let project = admin::create_project(&state, new).await.unwrap();
        admin::create_secret_key(&state, &project.id, "production").await.unwrap().0.lookup()
    });
    // What the SDK's backend sends; the handler has parsed the JSON and authenticated the key.
    let request = || LinkTokenRequest {
        end_user: EndUserInput { id: "user-4821".into(), email: Some("ada@example.com".into()), display_name: Some("Ada Lovelace".into()) },
        connectors: Vec::new(),
        connection_id: None,
        redirect_url: Some(format!("{APP_ORIGIN}/done")),
    };
    assert!(rt.block_on(create_link_token(&state, &caller, request())).is_ok(), "the bench link token must mint");
    let (state, caller) = (&state, &caller);
    c.bench_function("mint_link_token", |b| b.to_async(rt).iter(move || create_link_token(state, caller, request())));
    c.bench_function("mint_link_token_random_only", |b| b.iter(|| mint_token(LinkToken::PREFIX).sha256_hex()));
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    bench_keyring(c, &rt);
    bench_decode(c, &rt);
    bench_jwt(c, &rt);
    bench_link_token(c, &rt);
}

criterion_group! {
    name = core;
    // Modest: 7 benchmarks in well under a minute on a 2-core machine.
    config = Criterion::default().sample_size(50).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(core);
