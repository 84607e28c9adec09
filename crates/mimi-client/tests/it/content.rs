//! MIMI content messages against draft-ietf-mimi-content-08 (July 2026):
//! the draft's own examples (§5, hex dumps with their message IDs), round
//! trips, and every malformed input with its exact error.

use mimi_client::content::{
    ContentError, Disposition, Expiration, Extension, ExtensionKey, ExternalPart, Limits,
    MessageId, MimiContent, NestedPart, Part, PartSemantics, TEXT_MARKDOWN, TEXT_PLAIN,
};
use proptest::prelude::*;

const ROOM: &str = "mimi://example.com/r/engineering_team";
const ALICE: &str = "mimi://example.com/u/alice-smith";
const BOB: &str = "mimi://example.com/u/bob-jones";

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn id(s: &str) -> MessageId {
    MessageId(hex(s).try_into().unwrap())
}

/// The extensions map of every example: senderUri, roomUri.
fn ext(sender: &str) -> String {
    format!(
        "a2 01 78{:02x} {} 02 7825 {}",
        sender.len(),
        ascii(sender),
        ascii(ROOM)
    )
}

fn ascii(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// §5.1 Original Message.
fn original() -> Vec<u8> {
    hex(&format!(
        "87 50 5eed9406c2545547ab6f09f20a18b003 f6 40 f6 f6 {}
         85 01 60 01 781e 746578742f6d61726b646f776e3b76617269616e743d47464d2d4d494d49
         5839 48692065766572796f6e652c207765206a75737420736869707065642072656c
              6561736520322e302e205f5f476f6f642020776f726b5f5f21",
        ext(ALICE)
    ))
}

/// §5.8 Expiring.
fn expiring() -> Vec<u8> {
    hex(&format!(
        "87 50 33be993eb39f418f9295afc2ae160d2d f6 40 82 f4 1a62036674 f6 {}
         85 01 60 01 781e 746578742f6d61726b646f776e3b76617269616e743d47464d2d4d494d49
         5850 5f5f2a56504e20474f494e4720444f574e2a5f5f2049276d207265626f6f74696e67
              207468652056504e20696e2074656e206d696e7574657320756e6c65737320616e796f
              6e65206f626a656374732e",
        ext(ALICE)
    ))
}

/// §5.9 Attachments.
fn attachment() -> Vec<u8> {
    hex(&format!(
        "87 50 18fac6371e4e53f1aeaf8a013155c166 f6 40 f6 f6 {}
         8f 06 62 656e 02 69 766964656f2f6d7034
         782b 68747470733a2f2f6578616d706c652e636f6d2f73746f726167652f386b7342346253727252452e6d7034
         00 1a2a36ced1 01 50 21399320958a6f4c745dde670d95e0d8 4c c86cf2c33f21527d1dd76f5b 40
         01 5820 9ab17a8cf0890baaae7ee016c7312fcc080ba46498389458ee44f0276e783163
         781c 3220686f757273206f66206b6579207369676e696e6720766964656f
         6b 62696766696c652e6d7034",
        ext(BOB)
    ))
}

/// §5.10 Conferencing.
fn conferencing() -> Vec<u8> {
    hex(&format!(
        "87 50 678ac6cd54de049c3e9665cd212470fa f6 47 466f6f20313138 f6 f6 {}
         8f 07 60 02 60 781e 68747470733a2f2f6578616d706c652e636f6d2f6a6f696e2f3132333435
         00 00 00 40 40 40 00 40 781b 4a6f696e2074686520466f6f2031313820636f6e666572656e6365 60",
        ext(ALICE)
    ))
}

#[test]
fn draft_examples_decode_reencode_and_have_the_drafts_message_ids() {
    let cases = [
        (
            original(),
            ALICE,
            "017ce54837404c3696e0c747b985cb172716d0ed0a3d249ca63ace7d82a096f4",
        ),
        (
            expiring(),
            ALICE,
            "01e59db8173939facc2c8a4a0f0ae8d0c7a11a81239626630c9464a8d6717a03",
        ),
        (
            attachment(),
            BOB,
            "0176180c7d19a925021fe446d241134d05c38e0d999cdc0f39c391d2377ed9d1",
        ),
        (
            conferencing(),
            ALICE,
            "01496d15a8dba28d7397f9868b70768e4a67f765d5b5b1ae9e03848c5fdeb0ba",
        ),
    ];
    for (bytes, sender, expected) in cases {
        let message = MimiContent::decode(&bytes).unwrap();
        assert_eq!(message.encode().unwrap(), bytes);
        assert_eq!(message.extensions.sender_uri.as_deref(), Some(sender));
        assert_eq!(message.extensions.room_uri.as_deref(), Some(ROOM));
        assert_eq!(message.message_id(sender, ROOM).unwrap(), id(expected));
        assert_eq!(
            MessageId::compute(sender, ROOM, &bytes, &message.salt).unwrap(),
            id(expected)
        );
    }
}

#[test]
fn original_example_fields() {
    let message = MimiContent::decode(&original()).unwrap();
    assert_eq!(
        message.salt.to_vec(),
        hex("5eed9406c2545547ab6f09f20a18b003")
    );
    assert_eq!(
        (message.replaces, message.in_reply_to, message.expires),
        (None, None, None)
    );
    assert!(message.topic_id.is_empty() && message.extensions.other.is_empty());
    assert_eq!(message.body.disposition, Disposition::RENDER);
    assert_eq!(
        message.body.as_text(),
        Some("Hi everyone, we just shipped release 2.0. __Good  work__!")
    );
    assert!(
        matches!(&message.body.part, Part::Single { content_type, .. } if content_type == TEXT_MARKDOWN)
    );
    assert_eq!(
        message.body.part,
        NestedPart::markdown(message.body.as_text().unwrap()).part
    );
}

#[test]
fn expiring_and_external_example_fields() {
    let expiring = MimiContent::decode(&expiring()).unwrap();
    assert_eq!(expiring.expires, Some(Expiration::Absolute(1_644_390_004)));
    let attachment = MimiContent::decode(&attachment()).unwrap();
    assert_eq!(attachment.body.disposition, Disposition::ATTACHMENT);
    assert_eq!(attachment.body.language, "en");
    let Part::External(x) = &attachment.body.part else {
        panic!("expected an external part")
    };
    assert_eq!(
        (x.content_type.as_str(), x.size, x.enc_alg, x.hash_alg),
        ("video/mp4", 708_234_961, 1, 1)
    );
    assert_eq!(x.filename, "bigfile.mp4");
    let conferencing = MimiContent::decode(&conferencing()).unwrap();
    assert_eq!(conferencing.topic_id, b"Foo 118");
    assert_eq!(conferencing.body.disposition, Disposition::SESSION);
}

#[test]
fn a_reply_with_plain_text_round_trips() {
    let original_id = MimiContent::decode(&original())
        .unwrap()
        .message_id(ALICE, ROOM)
        .unwrap();
    let mut reply = MimiContent::with_random_salt(NestedPart::text("Right on!")).unwrap();
    reply.in_reply_to = Some(original_id);
    reply.extensions.sender_uri = Some(BOB.into());
    reply.extensions.room_uri = Some(ROOM.into());
    let bytes = reply.encode().unwrap();
    let decoded = MimiContent::decode(&bytes).unwrap();
    assert_eq!(decoded, reply);
    assert_eq!(decoded.in_reply_to.unwrap().hash_alg(), 1);
    assert!(
        matches!(&decoded.body.part, Part::Single { content_type, .. } if content_type == TEXT_PLAIN)
    );
    assert_ne!(
        reply.salt,
        MimiContent::with_random_salt(NestedPart::text("x"))
            .unwrap()
            .salt
    );
}

#[test]
fn unknown_extensions_and_dispositions_are_kept_in_deterministic_order() {
    let mut message = MimiContent::new([7; 16], NestedPart::null(Disposition(200)));
    message.extensions.other = vec![
        Extension {
            key: ExtensionKey::Text("x-vendor".into()),
            value: hex("a2 01 00 61 61 f5"),
        },
        Extension {
            key: ExtensionKey::Int(-1),
            value: hex("00"),
        },
        Extension {
            key: ExtensionKey::Int(256),
            value: hex("82 82 42 1234 d8 20 61 68 82 42 3456 19 168b"),
        },
    ];
    message.extensions.sender_uri = Some(ALICE.into());
    let bytes = message.encode().unwrap();
    let decoded = MimiContent::decode(&bytes).unwrap();
    let keys: Vec<_> = decoded
        .extensions
        .other
        .iter()
        .map(|e| e.key.clone())
        .collect();
    // Bytewise order of the encoded keys: 1 (01), 256 (19 0100), -1 (20), text (68 ...).
    assert_eq!(
        keys,
        [
            ExtensionKey::Int(256),
            ExtensionKey::Int(-1),
            ExtensionKey::Text("x-vendor".into())
        ]
    );
    assert_eq!(decoded.body.disposition, Disposition(200));
    assert_eq!(decoded.encode().unwrap(), bytes);
}

#[test]
fn multipart_round_trips() {
    let alternatives = NestedPart {
        disposition: Disposition::RENDER,
        language: "en,de".into(),
        part: Part::Multi {
            semantics: PartSemantics::ChooseOne,
            parts: vec![NestedPart::markdown("**hi**"), NestedPart::text("hi")],
        },
    };
    let message = MimiContent::new([1; 16], alternatives);
    assert_eq!(
        MimiContent::decode(&message.encode().unwrap()).unwrap(),
        message
    );
}

// ---- bad input: every refusal with its exact error ----

const SALT: &str = "50 00000000000000000000000000000000";
const TEXT_BODY: &str =
    "85 01 60 01 78 18 746578742f706c61696e3b636861727365743d7574662d38 42 6869";

/// A message from its seven fields in hex.
fn msg(fields: [&str; 7]) -> Vec<u8> {
    hex(&format!("87 {}", fields.join(" ")))
}

fn with_salt(salt: &str) -> Vec<u8> {
    msg([salt, "f6", "40", "f6", "f6", "a0", TEXT_BODY])
}

fn with_expires(expires: &str) -> Vec<u8> {
    msg([SALT, "f6", "40", expires, "f6", "a0", TEXT_BODY])
}

fn with_ext(ext: &str) -> Vec<u8> {
    msg([SALT, "f6", "40", "f6", "f6", ext, TEXT_BODY])
}

fn with_body(body: &str) -> Vec<u8> {
    msg([SALT, "f6", "40", "f6", "f6", "a0", body])
}

fn err(bytes: &[u8]) -> ContentError {
    MimiContent::decode(bytes).unwrap_err()
}

#[test]
fn valid_minimal_message_decodes() {
    // The base the bad inputs below change one field of.
    let message = MimiContent::decode(&with_salt(SALT)).unwrap();
    assert_eq!(message.body.as_text(), Some("hi"));
}

#[test]
fn bad_framing() {
    let mut trailing = original();
    trailing.push(0);
    assert_eq!(err(&trailing), ContentError::TrailingBytes { count: 1 });
    let mut six = original();
    six[0] = 0x86;
    assert_eq!(
        err(&six),
        ContentError::ArrayLength {
            field: "mimiContent",
            expected: 7,
            found: 6
        }
    );
    let mut indefinite = original();
    indefinite[0] = 0x9f;
    assert_eq!(
        err(&indefinite),
        ContentError::Indefinite {
            field: "mimiContent"
        }
    );
    let small = Limits {
        max_message_bytes: 10,
        ..Limits::default()
    };
    let len = original().len();
    assert_eq!(
        MimiContent::decode_with(&original(), &small).unwrap_err(),
        ContentError::TooLarge { len, max: 10 }
    );
    assert!(matches!(
        err(&[]),
        ContentError::Malformed {
            field: "mimiContent",
            ..
        }
    ));
}

#[test]
fn bad_behavior_fields() {
    assert_eq!(
        err(&with_salt("4f 000000000000000000000000000000")),
        ContentError::Size {
            field: "salt",
            expected: 16,
            found: 15
        }
    );
    assert!(matches!(
        err(&with_salt("70 00000000000000000000000000000000")),
        ContentError::Malformed { field: "salt", .. }
    ));
    assert_eq!(
        err(&with_salt("58 10 00000000000000000000000000000000")),
        ContentError::NotDeterministic {
            field: "mimiContent"
        }
    );
    let short_id = format!("58 1f {}", "00".repeat(31));
    assert_eq!(
        err(&msg([SALT, &short_id, "40", "f6", "f6", "a0", TEXT_BODY])),
        ContentError::Size {
            field: "replaces",
            expected: 32,
            found: 31
        }
    );
    assert_eq!(
        err(&msg([
            SALT,
            "f6",
            "40",
            "f6",
            "5f 41 00 ff",
            "a0",
            TEXT_BODY
        ])),
        ContentError::Indefinite { field: "inReplyTo" }
    );
    assert_eq!(
        err(&with_expires("81 f4")),
        ContentError::ArrayLength {
            field: "expires",
            expected: 2,
            found: 1
        }
    );
    assert_eq!(
        err(&with_expires("82 f4 1b 0000000100000000")),
        ContentError::OutOfRange {
            field: "expires.time",
            value: 1 << 32,
            max: u64::from(u32::MAX)
        }
    );
    assert!(matches!(
        err(&with_expires("82 00 00")),
        ContentError::Malformed {
            field: "expires.relative",
            ..
        }
    ));
    assert_eq!(
        MimiContent::decode(&with_expires("82 f5 18 3c"))
            .unwrap()
            .expires,
        Some(Expiration::Relative(60))
    );
}

#[test]
fn bad_extensions() {
    let cases: [(&str, ContentError); 13] = [
        (
            "a2 02 61 61 01 61 61",
            ContentError::NotDeterministic {
                field: "mimiExtensions",
            },
        ),
        (
            "a2 01 61 61 01 61 61",
            ContentError::DuplicateExtensionKey { key: "1".into() },
        ),
        (
            "a1 60 00",
            ContentError::InvalidExtensionKey {
                detail: "text keys must be 1 to 255 octets, found 0".into(),
            },
        ),
        (
            "a1 41 00 00",
            ContentError::InvalidExtensionKey {
                detail: "keys must be integers or text strings".into(),
            },
        ),
        (
            "a1 1b 0020000000000000 00",
            ContentError::InvalidExtensionKey {
                detail: "integer keys must lie within ±(2^53 - 1)".into(),
            },
        ),
        (
            "a1 18 64 81 81 81 81 00",
            ContentError::TooDeep {
                field: "mimiExtensions",
                max: 4,
            },
        ),
        (
            "a1 18 64 f9 3c00",
            ContentError::Unsupported {
                field: "mimiExtensions",
                item: "a floating-point number",
            },
        ),
        (
            "a1 18 64 18 05",
            ContentError::NotDeterministic {
                field: "mimiExtensions",
            },
        ),
        (
            "a1 18 64 9f ff",
            ContentError::Indefinite {
                field: "mimiExtensions",
            },
        ),
        (
            "a1 18 64 a2 02 00 01 00",
            ContentError::NotDeterministic {
                field: "mimiExtensions",
            },
        ),
        (
            "a1 18 64 a1 81 00 00",
            ContentError::Unsupported {
                field: "mimiExtensions",
                item: "a map key that is not an integer or string",
            },
        ),
        (
            "bf ff",
            ContentError::Indefinite {
                field: "mimiExtensions",
            },
        ),
        (
            "80",
            ContentError::Malformed {
                field: "mimiExtensions",
                detail: "expected a map".into(),
            },
        ),
    ];
    for (ext, expected) in cases {
        assert_eq!(err(&with_ext(ext)), expected, "extensions {ext}");
    }
    assert!(matches!(
        err(&with_ext("a1 01 01")),
        ContentError::Malformed {
            field: "senderUri",
            ..
        }
    ));
    assert!(matches!(
        err(&with_ext("a1 18 64 62 ff ff")),
        ContentError::Malformed {
            field: "mimiExtensions",
            ..
        }
    ));
    let big = format!("a1 18 64 59 1000 {}", "00".repeat(4096));
    assert_eq!(
        err(&with_ext(&big)),
        ContentError::ExtensionValueTooLarge {
            key: "100".into(),
            len: 4099
        }
    );
    // §6.3's own example of the deepest allowed extension.
    assert!(
        MimiContent::decode(&with_ext(
            "a1 19 0100 82 82 42 1234 d8 20 61 68 82 42 3456 19 168b"
        ))
        .is_ok()
    );
}

/// A NestedPart of `depth` levels: multiparts of two, text at the bottom.
fn nested(depth: usize) -> String {
    if depth == 1 {
        return TEXT_BODY.into();
    }
    let inner = nested(depth - 1);
    format!("85 01 60 03 02 82 {inner} {inner}")
}

#[test]
fn bad_bodies() {
    assert_eq!(
        err(&with_body("85 01 60 04 00 00")),
        ContentError::UnknownCardinality { found: 4 }
    );
    assert_eq!(
        err(&with_body("85 01 60 00 00 00")),
        ContentError::ArrayLength {
            field: "nestedPart",
            expected: 3,
            found: 5
        }
    );
    assert_eq!(
        err(&with_body("83 19 0100 60 00")),
        ContentError::OutOfRange {
            field: "disposition",
            value: 256,
            max: 255
        }
    );
    assert_eq!(
        err(&with_body(&format!("85 01 60 03 00 81 {TEXT_BODY}"))),
        ContentError::TooFewParts { found: 1 }
    );
    assert_eq!(
        err(&with_body(&format!(
            "85 01 60 03 03 82 {TEXT_BODY} {TEXT_BODY}"
        ))),
        ContentError::UnknownPartSemantics { found: 3 }
    );
    assert!(MimiContent::decode(&with_body(&nested(4))).is_ok());
    assert_eq!(
        err(&with_body(&nested(5))),
        ContentError::TooDeep {
            field: "nestedPart",
            max: 4
        }
    );
    let two = Limits {
        max_parts: 2,
        ..Limits::default()
    };
    assert_eq!(
        MimiContent::decode_with(&with_body(&nested(2)), &two).unwrap_err(),
        ContentError::TooManyParts { max: 2 }
    );
    assert!(matches!(
        err(&with_body("85 01 60 01 60 62 6869")),
        ContentError::Malformed {
            field: "content",
            ..
        }
    ));
    assert!(matches!(
        err(&with_body("83 01 61 ff 00")),
        ContentError::Malformed {
            field: "language",
            ..
        }
    ));
    assert!(matches!(
        err(&with_body("83 01 60 f6")),
        ContentError::Malformed {
            field: "cardinality",
            ..
        }
    ));
}

#[test]
fn what_a_sender_must_not_write_is_refused() {
    let one = NestedPart {
        disposition: Disposition::RENDER,
        language: String::new(),
        part: Part::Multi {
            semantics: PartSemantics::ProcessAll,
            parts: vec![NestedPart::text("a")],
        },
    };
    assert_eq!(
        MimiContent::new([0; 16], one).encode().unwrap_err(),
        ContentError::TooFewParts { found: 1 }
    );

    let mut message = MimiContent::new([0; 16], NestedPart::text("a"));
    message.extensions.other = vec![Extension {
        key: ExtensionKey::Int(1),
        value: hex("00"),
    }];
    assert_eq!(
        message.encode().unwrap_err(),
        ContentError::DuplicateExtensionKey { key: "1".into() }
    );
    message.extensions.other = vec![Extension {
        key: ExtensionKey::Int(9),
        value: hex("00 00"),
    }];
    assert_eq!(
        message.encode().unwrap_err(),
        ContentError::Malformed {
            field: "mimiExtensions",
            detail: "the value of extension 9 is not exactly one CBOR item".into()
        }
    );
    message.extensions.other = vec![Extension {
        key: ExtensionKey::Text("k".repeat(256)),
        value: hex("00"),
    }];
    assert_eq!(
        message.encode().unwrap_err(),
        ContentError::InvalidExtensionKey {
            detail: "text keys must be 1 to 255 octets, found 256".into()
        }
    );
    message.extensions.other = vec![Extension {
        key: ExtensionKey::Int(1 << 53),
        value: hex("00"),
    }];
    assert!(matches!(
        message.encode().unwrap_err(),
        ContentError::InvalidExtensionKey { .. }
    ));
    let long = "u".repeat(70_000);
    assert_eq!(
        MessageId::compute(&long, ROOM, &[], &[0; 16]).unwrap_err(),
        ContentError::UriTooLong {
            field: "senderUri",
            len: 70_000
        }
    );
}

// ---- round trips ----

fn leaf_part() -> impl Strategy<Value = NestedPart> {
    let single = (
        any::<u8>(),
        "[a-z,-]{0,8}",
        prop::sample::select(vec![TEXT_PLAIN, TEXT_MARKDOWN, "image/png"]),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(d, language, ct, content)| NestedPart {
            disposition: Disposition(d),
            language,
            part: Part::Single {
                content_type: ct.into(),
                content,
            },
        });
    let null = any::<u8>().prop_map(|d| NestedPart::null(Disposition(d)));
    let external = (
        any::<(u32, u64, u16, u8)>(),
        ".{0,12}",
        prop::collection::vec(any::<u8>(), 0..32),
    )
        .prop_map(
            |((expires, size, enc_alg, hash_alg), text, bytes)| NestedPart {
                disposition: Disposition::ATTACHMENT,
                language: String::new(),
                part: Part::External(Box::new(ExternalPart {
                    content_type: "video/mp4".into(),
                    url: format!("https://example.com/{}", text.len()),
                    expires,
                    size,
                    enc_alg,
                    key: bytes.clone(),
                    nonce: bytes.clone(),
                    aad: Vec::new(),
                    hash_alg,
                    content_hash: bytes,
                    description: text.clone(),
                    filename: text,
                })),
            },
        );
    prop_oneof![single, null, external]
}

fn body() -> impl Strategy<Value = NestedPart> {
    leaf_part().prop_recursive(3, 16, 3, |inner| {
        (
            prop::sample::select(vec![
                PartSemantics::ChooseOne,
                PartSemantics::SingleUnit,
                PartSemantics::ProcessAll,
            ]),
            prop::collection::vec(inner, 2..4),
        )
            .prop_map(|(semantics, parts)| NestedPart {
                disposition: Disposition::RENDER,
                language: String::new(),
                part: Part::Multi { semantics, parts },
            })
    })
}

fn message_id() -> impl Strategy<Value = Option<MessageId>> {
    prop::option::of(any::<[u8; 32]>().prop_map(MessageId))
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(
        salt in any::<[u8; 16]>(),
        replaces in message_id(),
        in_reply_to in message_id(),
        topic_id in prop::collection::vec(any::<u8>(), 0..16),
        expires in prop::option::of(prop_oneof![any::<u32>().prop_map(Expiration::Relative), any::<u32>().prop_map(Expiration::Absolute)]),
        sender in prop::option::of("[a-z:/.]{1,40}"),
        ext_keys in prop::collection::btree_set(3i64..24, 0..4),
        body in body(),
    ) {
        let mut message = MimiContent::new(salt, body);
        message.replaces = replaces;
        message.in_reply_to = in_reply_to;
        message.topic_id = topic_id;
        message.expires = expires;
        message.extensions.sender_uri = sender;
        message.extensions.other = ext_keys
            .into_iter()
            .map(|k| Extension { key: ExtensionKey::Int(k), value: vec![u8::try_from(k).unwrap()] })
            .collect();
        let bytes = message.encode().unwrap();
        let decoded = MimiContent::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &message);
        prop_assert_eq!(decoded.encode().unwrap(), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(message) = MimiContent::decode(&bytes) {
            prop_assert_eq!(message.encode().unwrap(), bytes);
        }
    }
}
