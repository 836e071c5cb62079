//! The role table in docs/security.md is the code's table: each built-in role's
//! permissions, row by row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use salus_domain::access::{Permission, role_permissions};
use salus_domain::identity::model::Role;

/// The table as the code defines it, in the documented format.
fn expected() -> String {
    let mut out = String::from("| permission |");
    for role in Role::ALL {
        out.push_str(&format!(" {} |", role.as_str()));
    }
    out.push_str("\n|---|");
    for _ in Role::ALL {
        out.push_str(":-:|");
    }
    for p in Permission::ALL {
        out.push_str(&format!("\n| `{}` |", p.code()));
        for role in Role::ALL {
            out.push_str(if role_permissions(role).contains(*p) {
                " ✓ |"
            } else {
                "  |"
            });
        }
    }
    out.push('\n');
    out
}

#[test]
fn the_documented_role_table_matches_the_code() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/security.md"
    ))
    .unwrap();
    let start = doc
        .find("<!-- role-table -->\n")
        .expect("role-table marker")
        + "<!-- role-table -->\n".len();
    let end = doc.find("<!-- /role-table -->").expect("end marker");
    let documented = &doc[start..end];
    assert!(
        documented == expected(),
        "docs/security.md's role table differs from the code; it should be:\n{}",
        expected()
    );
}
