//! Property tests: for generated identifiers of every kind, parsing any form
//! that exists gives back the identifier (parse(format(x)) == x).

use std::net::{Ipv4Addr, Ipv6Addr};

use mimi_identifiers::{
    Channel, DeviceId, Domain, EmailAddress, Handle, Identifier, PhoneNumber, Protocol, SessionId,
    Team, TeamChannel, UserId, parse, parse_with,
};
use proptest::prelude::*;

fn component() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~-]{1,24}".prop_filter("dot-segment", |s| s != "." && s != "..")
}

fn device_component() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => component(),
        1 => any::<u128>().prop_map(|n| format!("[{}]", Ipv6Addr::from(n))),
        1 => any::<u32>().prop_map(|n| Ipv4Addr::from(n).to_string()),
    ]
}

fn domain() -> impl Strategy<Value = Domain> {
    let label = "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?";
    let tld = "[a-z][a-z0-9]{1,5}";
    let label = label.prop_filter("IDNA-reserved label", |l| l.get(2..4) != Some("--"));
    (prop::collection::vec(label, 1..4), tld).prop_map(|(mut labels, tld)| {
        labels.push(tld);
        Domain::parse(&labels.join(".")).expect("generated domain is valid")
    })
}

fn qualifier() -> impl Strategy<Value = Option<Domain>> {
    prop::option::of(domain())
}

fn identifier() -> impl Strategy<Value = Identifier> {
    prop_oneof![
        domain().prop_map(Identifier::Domain),
        (component(), qualifier())
            .prop_map(|(n, d)| Identifier::Handle(Handle::new(&n, d).unwrap())),
        (component(), qualifier()).prop_map(|(n, d)| Identifier::User(UserId::new(&n, d).unwrap())),
        (component(), device_component(), qualifier()).prop_map(|(u, dev, d)| {
            Identifier::Device(DeviceId::new(&UserId::new(&u, d).unwrap(), &dev).unwrap())
        }),
        (device_component(), qualifier())
            .prop_map(|(dev, d)| Identifier::Device(DeviceId::without_user(&dev, d).unwrap())),
        (component(), qualifier())
            .prop_map(|(n, d)| Identifier::Channel(Channel::new(&n, d).unwrap())),
        (component(), qualifier()).prop_map(|(n, d)| Identifier::Team(Team::new(&n, d).unwrap())),
        (component(), component(), qualifier()).prop_map(|(t, c, d)| {
            Identifier::TeamChannel(TeamChannel::new(&Team::new(&t, d).unwrap(), &c).unwrap())
        }),
        (component(), qualifier())
            .prop_map(|(n, d)| Identifier::Session(SessionId::new(&n, d).unwrap())),
        "[1-9][0-9]{0,14}".prop_map(|digits| {
            Identifier::Phone(PhoneNumber::parse(&format!("+{digits}")).unwrap())
        }),
        (
            "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}){0,3}",
            domain()
        )
            .prop_map(|(l, d)| Identifier::Email(EmailAddress::new(&l, d).unwrap())),
    ]
}

fn protocols() -> Vec<Protocol> {
    ["wxyz", "matrix", "xmpp", "sip"]
        .map(|p| Protocol::new(p).unwrap())
        .to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn text_form_round_trips(id in identifier()) {
        let text = id.to_string();
        prop_assert_eq!(parse(&text).map(|p| p.identifier), Ok(id), "{}", text);
    }

    #[test]
    fn mimi_form_round_trips(id in identifier()) {
        if let Ok(uri) = id.to_mimi_uri() {
            prop_assert_eq!(parse(&uri).map(|p| p.identifier), Ok(id), "{}", uri);
        }
    }

    #[test]
    fn im_and_scheme_forms_round_trip(id in identifier()) {
        for proto in protocols() {
            if let Ok(uri) = id.to_im_uri(&proto) {
                let back = parse(&uri).map(|p| p.identifier);
                prop_assert_eq!(back, Ok(id.clone()), "{}", uri);
            }
            if let Ok(uri) = id.to_scheme_uri(&proto) {
                let back = parse_with(&uri, &proto).map(|p| p.identifier);
                prop_assert_eq!(back, Ok(id.clone()), "{}", uri);
            }
        }
    }

    #[test]
    fn every_kind_has_its_generic_forms(id in identifier()) {
        // The draft's generic protocol writes every service identifier; phone
        // numbers and email addresses have their own schemes instead.
        let wxyz = Protocol::wxyz();
        let service = !matches!(id, Identifier::Phone(_) | Identifier::Email(_));
        prop_assert_eq!(id.to_im_uri(&wxyz).is_ok(), service);
        prop_assert!(id.to_scheme_uri(&wxyz).is_ok());
    }
}
