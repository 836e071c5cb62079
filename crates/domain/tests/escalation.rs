//! Property: no sequence of allowed assignments gives anyone a permission that no
//! assigner held. Random members with random built-in roles and extras perform
//! random role changes, custom-role grants and overrides through the guard the
//! services use (`check_grant`); the test tracks, independently of the guard,
//! which permissions each member could legitimately have received.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use salus_domain::access::{
    Extras, Permission, PermissionSet, check_grant, effective, role_permissions,
};
use salus_domain::identity::model::Role;

/// What an allowed operation does to its target.
type Change = Box<dyn Fn(&mut (Role, Extras))>;

#[derive(Debug, Clone)]
enum Op {
    /// actor sets target's built-in role
    SetRole {
        actor: usize,
        target: usize,
        role: usize,
    },
    /// actor replaces target's custom-role permissions
    Custom {
        actor: usize,
        target: usize,
        bits: u64,
    },
    /// actor replaces target's grants and denies
    Overrides {
        actor: usize,
        target: usize,
        grants: u64,
        denies: u64,
    },
}

fn set(bits: u64) -> PermissionSet {
    let chosen: Vec<Permission> = Permission::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, p)| *p)
        .collect();
    PermissionSet::of(&chosen)
}

fn op(members: usize) -> impl Strategy<Value = Op> {
    let m = 0..members;
    prop_oneof![
        (m.clone(), m.clone(), 0..Role::ALL.len()).prop_map(|(actor, target, role)| Op::SetRole {
            actor,
            target,
            role
        }),
        (m.clone(), m.clone(), any::<u64>()).prop_map(|(actor, target, bits)| Op::Custom {
            actor,
            target,
            bits
        }),
        (m.clone(), m, any::<u64>(), any::<u64>()).prop_map(|(actor, target, grants, denies)| {
            Op::Overrides {
                actor,
                target,
                grants,
                denies,
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_allowed_sequence_grants_what_no_assigner_held(
        roles in proptest::collection::vec(1..Role::ALL.len(), 2..6),
        ops in proptest::collection::vec(op(6), 1..40),
    ) {
        // Nobody starts as owner: owners hold everything, which would make the property trivial.
        let mut members: Vec<(Role, Extras)> = roles.iter().map(|r| (Role::ALL[*r], Extras::default())).collect();
        let initial: PermissionSet = members.iter().fold(PermissionSet::EMPTY, |acc, (r, e)| acc.union(effective(*r, *e)));
        for op in ops {
            let n = members.len();
            let (actor, target, granted, apply): (usize, usize, PermissionSet, Change) = match op {
                Op::SetRole { actor, target, role } => {
                    let role = Role::ALL[role];
                    (actor % n, target % n, role_permissions(role), Box::new(move |m| m.0 = role))
                }
                Op::Custom { actor, target, bits } => {
                    let s = set(bits);
                    (actor % n, target % n, s, Box::new(move |m| m.1.custom = s))
                }
                Op::Overrides { actor, target, grants, denies } => {
                    let (g, d) = (set(grants), set(denies));
                    (actor % n, target % n, g, Box::new(move |m| { m.1.grants = g; m.1.denies = d; }))
                }
            };
            let actor_now = effective(members[actor].0, members[actor].1);
            let target_now = effective(members[target].0, members[target].1);
            if check_grant(actor_now, actor == target, target_now, granted).is_ok() {
                prop_assert!(actor != target, "a member changed themselves");
                prop_assert!(granted.is_subset_of(actor_now), "granted beyond the assigner's holdings");
                apply(&mut members[target]);
            }
            for (role, extras) in &members {
                prop_assert!(
                    effective(*role, *extras).is_subset_of(initial),
                    "someone holds a permission no member held at the start"
                );
            }
        }
    }
}

#[test]
fn the_guard_refuses_each_kind_of_escalation() {
    let admin = role_permissions(Role::Administrator);
    let nurse = role_permissions(Role::Nurse);
    assert!(
        check_grant(admin, true, nurse, PermissionSet::EMPTY).is_err(),
        "self"
    );
    assert!(
        check_grant(
            admin,
            false,
            role_permissions(Role::Owner),
            PermissionSet::EMPTY
        )
        .is_err(),
        "above"
    );
    assert!(
        check_grant(
            admin,
            false,
            role_permissions(Role::Receptionist).minus(role_permissions(Role::Receptionist)),
            nurse
        )
        .is_err(),
        "beyond"
    );
    assert!(
        check_grant(
            admin,
            false,
            PermissionSet::EMPTY,
            PermissionSet::of(&[Permission::StaffRead])
        )
        .is_ok()
    );
}
