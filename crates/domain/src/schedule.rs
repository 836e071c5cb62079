//! Practitioners' working hours (weekly, in the clinic's time zone), absences, and
//! the free slots they leave.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::concurrency::{Expected, lock_checked};
use crate::identity::model::ClientInfo;
use crate::ids::{ClinicId, MembershipId};
use crate::ports::identity::IdentityRepo;
use crate::ports::schedule::{Absence, Interval, Practitioner, WorkingHours};
use crate::shared::{Core, transactions};
use crate::staff::member_changed;
use crate::store::Scope;

/// Whether a clinic may use this IANA zone: the geographic ones (`Area/Location`)
/// and UTC. The legacy aliases (`EST5EDT`, `Etc/GMT+5`, `GMT0`, ...) are left out:
/// they add nothing a clinic needs, and some differ only by a sign, which generated
/// clients cannot tell apart in an enum.
fn is_clinic_zone(name: &str) -> bool {
    (name.contains('/') && !name.starts_with("Etc/")) || name == "UTC" || name == "Etc/UTC"
}

/// Every IANA time zone name [`parse_time_zone`] takes.
pub fn time_zone_names() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter(|name| is_clinic_zone(name))
        .collect()
}

/// Parses an IANA time zone name (see [`time_zone_names`]).
pub fn parse_time_zone(name: &str) -> Result<Tz, DomainError> {
    let zone = Some(name)
        .filter(|n| is_clinic_zone(n))
        .ok_or(())
        .and_then(|n| n.parse::<Tz>().map_err(|_| ()));
    zone.map_err(|()| {
        DomainError::invalid(
            "time_zone",
            "invalid",
            "is not an IANA time zone such as Europe/Paris",
        )
    })
}

fn local_to_utc(tz: Tz, day: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&day.and_time(time))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// The working intervals of one local day, in UTC.
fn day_intervals(tz: Tz, hours: &[WorkingHours], day: NaiveDate) -> Vec<Interval> {
    hours
        .iter()
        .filter(|h| h.weekday == day.weekday().number_from_monday())
        .filter_map(|h| {
            Some((
                local_to_utc(tz, day, h.starts)?,
                local_to_utc(tz, day, h.ends)?,
            ))
        })
        .collect()
}

fn overlaps(a: Interval, b: Interval) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Whether `[start, end)` lies inside working hours and outside absences. A
/// practitioner without any hours set accepts any time.
pub fn within_hours(
    tz: Tz,
    hours: &[WorkingHours],
    absences: &[Absence],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> bool {
    if absences
        .iter()
        .any(|a| overlaps((a.starts_at, a.ends_at), (start, end)))
    {
        return false;
    }
    if hours.is_empty() {
        return true;
    }
    let day = start.with_timezone(&tz).date_naive();
    day_intervals(tz, hours, day)
        .iter()
        .any(|(s, e)| *s <= start && end <= *e)
}

/// Free slots of `slot` length in `[from, to)`: inside hours, outside absences and
/// appointments.
pub fn free_slots(
    tz: Tz,
    hours: &[WorkingHours],
    absences: &[Absence],
    busy: &[Interval],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    slot: Duration,
) -> Vec<Interval> {
    let mut out = Vec::new();
    let mut day = from.with_timezone(&tz).date_naive();
    let last = to.with_timezone(&tz).date_naive();
    while day <= last {
        for (start, end) in day_intervals(tz, hours, day) {
            let mut t = start;
            while t + slot <= end {
                let candidate = (t, t + slot);
                let free = candidate.0 >= from
                    && candidate.1 <= to
                    && !absences
                        .iter()
                        .any(|a| overlaps((a.starts_at, a.ends_at), candidate))
                    && !busy.iter().any(|b| overlaps(*b, candidate));
                if free {
                    out.push(candidate);
                }
                t += slot;
            }
        }
        day = day.succ_opt().unwrap_or(last + Duration::days(1));
    }
    out
}

/// The clinic's time zone.
pub(crate) fn clinic_time_zone(
    tx: &mut dyn IdentityRepo,
    clinic: ClinicId,
) -> Result<Tz, DomainError> {
    let clinic = tx.clinic(clinic)?.ok_or(DomainError::NotFound)?;
    parse_time_zone(&clinic.time_zone)
        .map_err(|_| DomainError::Internal(format!("bad time zone {}", clinic.time_zone)))
}

/// Practitioners' working hours, absences and availability.
#[derive(Clone)]
pub struct Schedule {
    core: Core,
}

impl Schedule {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(ScheduleTx, committed);

    /// Flags a member as practitioner (or changes their specialty) if `expected` is
    /// the membership's current version; returns the new one.
    pub fn set_practitioner(
        &self,
        actor: &Actor,
        member: MembershipId,
        specialty: &str,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<i32, DomainError> {
        actor.require(Permission::StaffUpdate)?;
        let specialty = specialty.trim();
        if specialty.is_empty() || specialty.chars().count() > 100 {
            return Err(DomainError::invalid(
                "specialty",
                "length",
                "must be 1 to 100 characters",
            ));
        }
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if let Err(refused) = lock_checked(tx, actor.clinic_id, member, expected) {
                return Ok(Err(refused));
            }
            tx.upsert_practitioner(actor.clinic_id, member, specialty, now)?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::PRACTITIONER_SET,
                ("membership", member.0),
                client,
            )?;
            Ok(Ok(member_changed(tx, actor.clinic_id, member)?))
        })
    }

    /// The clinic's practitioners.
    pub fn list_practitioners(&self, actor: &Actor) -> Result<Vec<Practitioner>, DomainError> {
        actor.require(Permission::AppointmentsRead)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.practitioners(actor.clinic_id)
        })
    }

    /// Replaces a practitioner's weekly hours if `expected` is the membership's
    /// current version; returns the new one.
    pub fn set_working_hours(
        &self,
        actor: &Actor,
        member: MembershipId,
        hours: &[WorkingHours],
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<i32, DomainError> {
        actor.require(Permission::StaffUpdate)?;
        if hours
            .iter()
            .any(|h| !(1..=7).contains(&h.weekday) || h.ends <= h.starts)
        {
            return Err(DomainError::invalid(
                "hours",
                "invalid",
                "each interval needs a weekday 1-7 and an end after its start",
            ));
        }
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if !tx.is_practitioner(actor.clinic_id, member)? {
                return Ok(Err(DomainError::NotFound));
            }
            if let Err(refused) = lock_checked(tx, actor.clinic_id, member, expected) {
                return Ok(Err(refused));
            }
            tx.set_hours(actor.clinic_id, member, hours)?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::SCHEDULE_WORKING_HOURS_SET,
                ("membership", member.0),
                client,
            )?;
            Ok(Ok(member_changed(tx, actor.clinic_id, member)?))
        })
    }

    /// Records an absence.
    pub fn add_absence(
        &self,
        actor: &Actor,
        member: MembershipId,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        client: &ClientInfo,
    ) -> Result<Absence, DomainError> {
        actor.require(Permission::StaffUpdate)?;
        if ends_at <= starts_at {
            return Err(DomainError::invalid(
                "ends_at",
                "after_start",
                "must be after starts_at",
            ));
        }
        let absence = Absence {
            id: self.core.new_id(),
            starts_at,
            ends_at,
        };
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if !tx.is_practitioner(actor.clinic_id, member)? {
                return Ok(Err(DomainError::NotFound));
            }
            tx.insert_absence(actor.clinic_id, member, &absence)?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::SCHEDULE_ABSENCE_ADDED,
                ("membership", member.0),
                client,
            )?;
            Ok(Ok(absence))
        })
    }

    /// Free slots of a practitioner (at most 31 days at a time).
    pub fn availability(
        &self,
        actor: &Actor,
        member: MembershipId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        slot: Duration,
    ) -> Result<Vec<Interval>, DomainError> {
        actor.require(Permission::AppointmentsRead)?;
        if to <= from || to - from > Duration::days(31) {
            return Err(DomainError::invalid(
                "to",
                "range",
                "must be after from, at most 31 days later",
            ));
        }
        if slot < Duration::minutes(5) || slot > Duration::hours(8) {
            return Err(DomainError::invalid(
                "slot_minutes",
                "range",
                "must be between 5 and 480",
            ));
        }
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            if !tx.is_practitioner(actor.clinic_id, member)? {
                return Err(DomainError::NotFound);
            }
            let tz = clinic_time_zone(tx, actor.clinic_id)?;
            let hours = tx.hours(actor.clinic_id, member)?;
            let absences = tx.absences(actor.clinic_id, member, (from, to))?;
            let busy = tx.busy(actor.clinic_id, member, (from, to))?;
            Ok(free_slots(tz, &hours, &absences, &busy, from, to, slot))
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn hours() -> Vec<WorkingHours> {
        let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        vec![
            WorkingHours {
                weekday: 1,
                starts: t(9),
                ends: t(12),
            },
            WorkingHours {
                weekday: 1,
                starts: t(14),
                ends: t(17),
            },
        ]
    }

    #[test]
    fn hours_are_local_to_the_clinic() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        // Monday 2030-01-07, 09:00 in Paris is 08:00 UTC (winter).
        let start = Utc.with_ymd_and_hms(2030, 1, 7, 8, 0, 0).unwrap();
        assert!(within_hours(
            paris,
            &hours(),
            &[],
            start,
            start + Duration::minutes(30)
        ));
        assert!(!within_hours(
            paris,
            &hours(),
            &[],
            start - Duration::hours(1),
            start
        ));
        assert!(
            !within_hours(
                paris,
                &hours(),
                &[],
                start + Duration::hours(3),
                start + Duration::hours(4)
            ),
            "lunch"
        );
        let absent = Absence {
            id: crate::ids::AbsenceId(uuid::Uuid::nil()),
            starts_at: start,
            ends_at: start + Duration::hours(1),
        };
        assert!(!within_hours(
            paris,
            &hours(),
            &[absent],
            start,
            start + Duration::minutes(30)
        ));
        assert!(
            within_hours(paris, &[], &[], start, start + Duration::minutes(30)),
            "no hours set: any time"
        );
    }

    #[test]
    fn free_slots_skip_busy_and_absent_times() {
        let utc: Tz = "UTC".parse().unwrap();
        let monday = Utc.with_ymd_and_hms(2030, 1, 7, 0, 0, 0).unwrap();
        let busy = [(
            monday + Duration::hours(9),
            monday + Duration::minutes(9 * 60 + 30),
        )];
        let slots = free_slots(
            utc,
            &hours(),
            &[],
            &busy,
            monday,
            monday + Duration::days(1),
            Duration::minutes(30),
        );
        assert_eq!(slots.len(), 6 + 6 - 1);
        assert_eq!(slots[0].0, monday + Duration::minutes(9 * 60 + 30));
    }
}
