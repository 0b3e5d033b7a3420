//! Property tests of the due-time rules: whatever the zone, hours, DST day or request, a
//! computed due time is inside business hours, the window and the horizon, never before
//! now; refusals name a nearest slot that is itself bookable; grids are ordered and open.

use callback_core::model::{CallbackType, Window};
use callback_core::schedule::{
    availability, plan_due, resolve_local, BusinessHours, QueueRules, SlotPolicy, SlotState,
};
use callback_core::when::Requested;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

const ZONES: [&str; 5] = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
];
const HOURS: [&str; 6] = [
    "mon-fri 09:00-17:00",
    "always",
    "mon-sun 00:00-04:00 22:00-24:00",
    "mon-fri 08:00-12:30 13:30-20:00; sat 09:00-13:00",
    "sun 01:00-03:30",
    "tue,thu 02:00-02:45",
];

/// Instants in 2026-2028, with extra weight on the DST change days of the zones above.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let dst_days = [
        (2026, 3, 8),
        (2026, 11, 1),
        (2026, 3, 29),
        (2026, 10, 25),
        (2026, 4, 5),
        (2026, 10, 4),
        (2027, 3, 14),
        (2027, 3, 28),
        (2027, 10, 31),
        (2027, 11, 7),
    ];
    prop_oneof![
        (1_767_225_600i64..1_830_297_600i64).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap()),
        (0usize..dst_days.len(), -36i64..36).prop_map(move |(i, h)| {
            let (y, m, d) = dst_days[i];
            Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap() + Duration::minutes(h * 40)
        }),
    ]
}

fn rules(zone: Tz, hours: &str, minutes: u32, horizon_days: i64, closed: &str) -> QueueRules {
    QueueRules {
        name: "q".into(),
        hours: BusinessHours::parse(zone, hours, closed).unwrap(),
        slots: SlotPolicy {
            minutes,
            capacity: 3,
        },
        horizon: Duration::days(horizon_days),
    }
}

fn usage(seed: u32) -> impl Fn(DateTime<Utc>, DateTime<Utc>) -> u32 {
    // A deterministic pseudo-random fill: some slots full, most not.
    move |s: DateTime<Utc>, _e: DateTime<Utc>| ((s.timestamp() / 60) as u32 ^ seed) % 5
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn planned_due_times_obey_every_rule(
        zone_i in 0usize..5, cust_i in 0usize..5, hours_i in 0usize..HOURS.len(),
        minutes in prop::sample::select(vec![15u32, 30, 45, 60]),
        horizon_days in 1i64..40, now in instant(), offset_min in -600i64..(45 * 24 * 60),
        delay_min in 0i64..(3 * 24 * 60), mode in 0u8..4,
        win_from in prop::option::of(0i64..(5 * 24 * 60)), win_len in prop::option::of(30i64..(5 * 24 * 60)),
        seed in any::<u32>(), closed_in in prop::option::of(0i64..20),
    ) {
        let zone: Tz = ZONES[zone_i].parse().unwrap();
        let customer: Tz = ZONES[cust_i].parse().unwrap();
        let closed = closed_in
            .map(|d| (now + Duration::days(d)).with_timezone(&zone).date_naive().to_string())
            .unwrap_or_default();
        let r = rules(zone, HOURS[hours_i], minutes, horizon_days, &closed);
        let from = win_from.map(|m| now + Duration::minutes(m));
        let window = Window { from, until: win_len.map(|l| from.unwrap_or(now) + Duration::minutes(l)) };
        let target = now + Duration::minutes(offset_min);
        let local_target: NaiveDateTime = target.with_timezone(&customer).naive_local();
        let when = match mode {
            0 => Requested::Now,
            1 => Requested::After(Duration::minutes(delay_min)),
            2 => Requested::Local(local_target),
            _ => Requested::At(target),
        };
        let used = usage(seed);
        match plan_due(CallbackType::Scheduled, &when, &window, &r, customer, now, &used) {
            Ok(plan) => {
                prop_assert!(plan.due_at >= now, "due before now");
                prop_assert!(plan.due_at <= now + r.horizon, "due beyond horizon");
                prop_assert!(r.hours.is_open(plan.due_at), "due outside hours");
                prop_assert!(!r.hours.is_closed_date(r.hours.local_date(plan.due_at)));
                prop_assert!(window.contains(plan.due_at), "due outside window");
                if let Requested::Local(naive) = &when {
                    let instant = resolve_local(customer, *naive);
                    prop_assert!(plan.due_at == instant || (instant < now && plan.due_at == now));
                }
                if let Some((s, e, cap)) = plan.slot {
                    prop_assert!(s <= plan.due_at.max(s) && plan.due_at < e);
                    prop_assert!(used(s, e) < cap, "booked a full slot");
                }
            }
            Err(err) => {
                prop_assert!(!err.to_string().is_empty());
                if let Some(n) = err.nearest() {
                    prop_assert!(n >= now && n <= now + r.horizon, "nearest {n} out of range");
                    prop_assert!(r.hours.is_open(n), "nearest {n} not open");
                    prop_assert!(window.contains(n), "nearest outside window");
                    prop_assert!(err.to_string().contains(customer.name()), "{err}");
                    // The nearest slot really is bookable.
                    let again = plan_due(CallbackType::Scheduled, &Requested::At(n), &window, &r, customer, now, &used);
                    prop_assert!(again.is_ok(), "nearest {n} refused: {:?}", again);
                }
            }
        }
    }

    #[test]
    fn wall_clock_times_round_trip_except_in_gaps(zone_i in 0usize..5, t in instant()) {
        let zone: Tz = ZONES[zone_i].parse().unwrap();
        let naive = t.with_timezone(&zone).naive_local();
        let back = resolve_local(zone, naive);
        // The earlier of two readings on a fall-back night; otherwise the same instant.
        prop_assert!(back <= t);
        prop_assert_eq!(back.with_timezone(&zone).naive_local(), naive);
        // A time in a gap moves forward, never backward, and by at most the gap (≤ 1 h here).
        let in_gap = naive.date().and_time(NaiveTime::from_hms_opt(2, 15, 0).unwrap());
        let resolved = resolve_local(zone, in_gap).with_timezone(&zone).naive_local();
        prop_assert!(resolved >= in_gap && resolved - in_gap <= Duration::hours(1));
    }

    #[test]
    fn grids_are_ordered_open_and_on_the_customers_day(
        zone_i in 0usize..5, cust_i in 0usize..5, hours_i in 0usize..HOURS.len(),
        minutes in prop::sample::select(vec![15u32, 30, 60]), now in instant(), day in -2i64..35, seed in any::<u32>(),
    ) {
        let zone: Tz = ZONES[zone_i].parse().unwrap();
        let customer: Tz = ZONES[cust_i].parse().unwrap();
        let r = rules(zone, HOURS[hours_i], minutes, 30, "");
        let date: NaiveDate = (now + Duration::days(day)).with_timezone(&customer).date_naive();
        let grid = availability(&r, customer, date, now, &usage(seed));
        prop_assert_eq!(grid.zone.as_str(), customer.name());
        for w in grid.slots.windows(2) {
            prop_assert!(w[0].end <= w[1].start, "overlap or disorder");
        }
        for s in &grid.slots {
            prop_assert_eq!(s.start.with_timezone(&customer).date_naive(), date);
            prop_assert!(r.hours.is_open(s.start));
            prop_assert!(s.end - s.start == Duration::minutes(i64::from(minutes)));
            match s.state {
                SlotState::Past => prop_assert!(s.end <= now),
                SlotState::BeyondHorizon => prop_assert!(s.start > now + r.horizon),
                SlotState::Full => prop_assert!(s.used >= s.capacity),
                SlotState::Available => prop_assert!(s.used < s.capacity && s.end > now),
            }
        }
    }
}
