//! Epoch-seconds ⇄ text: RFC 3339 output, senders' ISO stamps (Logbook's broken fractions included),
//! and the `--since`/`--until` forms users type (RFC 3339 or relative like `15m`).

/// Epoch seconds as whole microseconds, exactly as CPython's `datetime.fromtimestamp` makes
/// them (`_PyTime_DoubleToDenominator`): the fraction of the double itself, times 10⁶, rounded
/// half to even. Multiplying the whole epoch by 10⁶ first, as this once did, rounds twice
/// (the product has only quarter-microsecond precision at today's epochs) and prints
/// `.800876` where Python prints `.800875` for `1795565018.8008754`.
pub fn micros_like_python(epoch: f64) -> i64 {
    if !epoch.is_finite() {
        return 0;
    }
    let int = epoch.trunc();
    let mut frac = ((epoch - int) * 1e6).round_ties_even();
    let mut secs = int as i64;
    if frac >= 1e6 {
        frac -= 1e6;
        secs += 1;
    } else if frac < 0.0 {
        frac += 1e6;
        secs -= 1;
    }
    secs.saturating_mul(1_000_000).saturating_add(frac as i64)
}

/// Formats epoch seconds as RFC 3339 UTC with microseconds: `2026-11-25T00:05:23.695571Z`,
/// the digits CPython's `datetime.fromtimestamp(created)` shows for the same `created`.
pub fn rfc3339_micros(epoch: f64) -> String {
    // Round to the microsecond first so 0.9999996 does not print as .1000000.
    let total_us = micros_like_python(epoch);
    let secs = total_us.div_euclid(1_000_000);
    let us = total_us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{us:06}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Epoch seconds as UTC to the millisecond, for the table: `2026-11-25T00:05:23.695Z`.
pub fn rfc3339_millis_utc(epoch: f64) -> String {
    let micros = rfc3339_micros(epoch);
    // `…SS.uuuuuuZ` → `…SS.mmmZ`: the same rounding as the full form, three digits kept.
    format!("{}Z", &micros[..micros.len() - 4])
}

/// Epoch seconds in time zone `tz` (for the table, the machine's: `TZ`, else /etc/localtime,
/// from `jiff::tz::TimeZone::system()`) to the millisecond: `2026-11-25 01:05:23.695`.
/// Falls back to UTC (marked `Z`) for times the zone database cannot place.
pub fn local_millis(epoch: f64, tz: &jiff::tz::TimeZone) -> String {
    let local = (epoch.is_finite())
        .then(|| jiff::Timestamp::from_microsecond(micros_like_python(epoch)).ok())
        .flatten()
        .map(|t| t.to_zoned_datetime(tz.clone()));
    match local {
        Some(z) => z.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        None => rfc3339_millis_utc(epoch),
    }
}

/// Parses an ISO 8601 / RFC 3339 timestamp into epoch seconds.
///
/// Accepts `T` or a space between date and time, an optional fraction, and
/// `Z`, `±HH:MM`, `±HHMM` or nothing (naive stamps are taken as UTC, which is
/// what Logbook writes by default). The fraction is read as Logbook 1.10.1
/// writes it: `str(microsecond)` without zero padding, so `.5123` means 5123 µs
/// when it has fewer than six digits and came from Logbook. We cannot tell the
/// two apart, so the rule from the wire notes applies: a fraction of up to six
/// digits is the integer count of microseconds when `logbook_fraction` is set,
/// and a decimal fraction otherwise.
pub fn parse_iso(s: &str, logbook_fraction: bool) -> Option<f64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s.get(0..4)?.parse().ok()?;
    let mo: i64 = s.get(5..7)?.parse().ok()?;
    let d: i64 = s.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400;
    let mut rest = &s[10..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix(['T', 't', ' ']) {
        let hh: i64 = r.get(0..2)?.parse().ok()?;
        if r.as_bytes().get(2) != Some(&b':') {
            return None;
        }
        let mm: i64 = r.get(3..5)?.parse().ok()?;
        let mut r2 = &r[5..];
        let mut ss = 0;
        if let Some(x) = r2.strip_prefix(':') {
            ss = x.get(0..2)?.parse().ok()?;
            r2 = &x[2..];
        }
        if hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        secs += hh * 3600 + mm * 60 + ss;
        if let Some(x) = r2.strip_prefix(['.', ',']) {
            let n = x.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            let digits = &x[..n];
            frac = if logbook_fraction && n <= 6 {
                digits.parse::<u32>().ok()? as f64 / 1e6
            } else {
                format!("0.{digits}").parse::<f64>().ok()?
            };
            r2 = &x[n..];
        }
        rest = r2;
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let t = rest[1..].replace(':', "");
            // Senders write this text: check it is four digits before slicing.
            if t.len() != 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let h: i64 = t[0..2].parse().ok()?;
            let m: i64 = t[2..4].parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    Some((secs - offset) as f64 + frac)
}

/// Parses a user's time bound: RFC 3339 (or a bare date), or a span back
/// from `now` such as `90s`, `15m`, `2h`, `3d`, `1w`.
pub fn parse_time_arg(s: &str, now: f64) -> Result<f64, String> {
    let t = s.trim();
    if let Some(unit) = t.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        let num = &t[..t.len() - 1];
        if let Ok(n) = num.parse::<f64>() {
            let mult = match unit {
                's' => 1.0,
                'm' => 60.0,
                'h' => 3600.0,
                'd' => 86_400.0,
                'w' => 604_800.0,
                _ => {
                    return Err(format!(
                        "unknown time unit '{unit}' in '{s}' (use s, m, h, d or w)"
                    ));
                }
            };
            if n.is_finite() && n >= 0.0 {
                return Ok(now - n * mult);
            }
        }
    }
    parse_iso(t, false).ok_or_else(|| {
        format!("cannot read '{s}' as a time: use RFC 3339 (2026-11-25T10:00:00Z) or a span like 15m, 2h, 3d")
    })
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(rfc3339_micros(0.0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(1795564925.9030535),
            "2026-11-25T00:02:05.903054Z"
        );
        let t = parse_iso("2026-11-25T00:02:05.903054Z", false).unwrap();
        assert!((t - 1795564925.903054).abs() < 1e-6);
    }

    /// Each expected string is what CPython 3.11 prints for
    /// `datetime.fromtimestamp(t, timezone.utc).isoformat()`.
    #[test]
    fn microseconds_are_the_ones_cpython_prints() {
        for (t, python) in [
            (1795565018.8008754, "2026-11-25T00:03:38.800875Z"),
            (1795565018.7979264, "2026-11-25T00:03:38.797926Z"),
            (1795565018.211189, "2026-11-25T00:03:38.211189Z"),
            (1795565018.2114208, "2026-11-25T00:03:38.211421Z"),
            (1795565018.0000005, "2026-11-25T00:03:38.000000Z"),
            (1.0000005, "1970-01-01T00:00:01.000001Z"),
            (0.9999996, "1970-01-01T00:00:01.000000Z"),
            (-5e-7, "1970-01-01T00:00:00.000000Z"),
        ] {
            assert_eq!(rfc3339_micros(t), python, "{t:?}");
        }
        assert_eq!(micros_like_python(f64::NAN), 0);
    }

    #[test]
    fn logbook_fraction_is_integer_microseconds() {
        let a = parse_iso("2026-11-25T00:05:23.5123Z", true).unwrap();
        let b = parse_iso("2026-11-25T00:05:23Z", true).unwrap();
        assert!((a - b - 0.005123).abs() < 1e-6);
        let c = parse_iso("2026-11-25T00:05:23.5123Z", false).unwrap();
        assert!((c - b - 0.5123).abs() < 1e-6);
        assert_eq!(
            parse_iso("2026-11-25T01:05:23+01:00", false),
            parse_iso("2026-11-25 00:05:23", false)
        );
    }

    #[test]
    fn hostile_stamps_are_refused_not_panicked_on() {
        for bad in [
            "2026-01-01T00:00:00+1é1",
            "2026-01-01T00:00:00+é",
            "2026-01-0é",
            "2026-01-01Té0:00",
            "2026-01-01T00:00:00.é",
        ] {
            assert_eq!(parse_iso(bad, true), None, "{bad}");
        }
    }

    #[test]
    fn relative_spans() {
        assert_eq!(parse_time_arg("15m", 1000.0), Ok(100.0));
        assert_eq!(parse_time_arg("2h", 10_000.0), Ok(2800.0));
        assert!(parse_time_arg("3q", 0.0).is_err());
        assert!(parse_time_arg("yesterday", 0.0).is_err());
    }
}
