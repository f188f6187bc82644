#!/usr/bin/env bash
# `make test-dates`: the date-sensitive parts of the suite, run under libfaketime at awkward
# instants, so a test that reads the wall clock without pinning it fails here and not on some
# unlucky day in CI. Each run starts the process clock at the instant (UTC, written with `@` so
# the clock ticks on from there); time_machine still works on top of it.
#   tests/dates/run.sh                   every instant below
#   tests/dates/run.sh '2027-03-28 01:30:00' ...   just those instants (UTC)
#   PYTEST_ARGS="-n 0 -x" tests/dates/run.sh       other pytest options
set -uo pipefail
cd "$(dirname "$0")/../.."

# The instants, all UTC. Europe/London is GMT (UTC+0) in winter and BST (UTC+1) in summer.
INSTANTS=(
  "2027-03-01 09:00:00"  # Monday 1 March, 09:00 GMT: the 1st of a month (a day before the 10th)
  "2027-03-09 09:00:00"  # Tuesday 9 March, 09:00 GMT: the last single-digit day of a month
  "2028-02-29 12:00:00"  # Tuesday 29 February 2028, noon GMT: a leap day
  # Sunday 28 March 2027: clocks go from 01:00 GMT to 02:00 BST at 01:00 UTC, so 01:30 London
  # does not exist. 01:30 UTC is what Python's zoneinfo makes of "01:30 London" (fold=0 takes
  # the offset before the change, GMT): on the wall clock it is 02:30 BST, half an hour after
  # the jump, on the 23-hour day.
  "2027-03-28 01:30:00"
  # Sunday 31 October 2027: clocks go from 02:00 BST back to 01:00 GMT at 01:00 UTC, so 01:30
  # London happens twice: 00:30 UTC is the first (01:30 BST), 01:30 UTC the second (01:30 GMT).
  "2027-10-31 00:30:00"
  "2027-10-31 01:30:00"
  "2027-12-31 23:30:00"  # Friday 31 December 2027, 23:30 GMT: the last half hour of a year
  "2027-05-03 08:00:00"  # Monday 3 May 2027 (early May bank holiday), 09:00 BST
)

# The tests whose answers depend on today's date: the working-days rules, the referral and case
# services, the drafts list, the panel schedule and agenda (a panel ten days ahead), the MDT
# service and its reschedule form, the action ladder and escalation sweep, the scheduler's jobs
# and the demo data (all dated relative to today). No browser tests.
TESTS=(
  tests/test_workdays.py
  tests/referrals/test_services.py
  tests/referrals/test_drafts.py
  tests/cases/test_services.py
  tests/meetings/test_schedule.py
  tests/meetings/test_agenda.py
  tests/meetings/test_agenda_pages.py
  tests/meetings/test_mdt.py
  "tests/meetings/test_mdt_pages.py::test_the_reschedule_form_starts_with_the_current_details_and_a_change_sends_updates"
  tests/actions/test_ladder.py
  tests/actions/test_sweep.py
  tests/test_scheduler.py
  tests/test_demo_data.py
  # run mode (open once the panel has started), reply links (expire after the meeting), time
  # boxes, attendance, chasing overdue actions, the home pages' counts, subject-access deadlines
  # (a month, then the next working day) and retention (six years from each record's last date)
  tests/meetings/test_run_mode.py
  tests/meetings/test_reply_links.py
  tests/meetings/test_time_boxes.py
  tests/meetings/test_attendance.py
  tests/actions/test_chase.py
  tests/main/test_home_pages.py
  tests/reports/test_subject_access.py
  tests/reports/test_subject_access_pages.py
  tests/reports/test_retention.py
  tests/reports/test_retention_rules.py
  tests/reports/test_retention_list.py
  tests/reports/test_retention_pages.py
)

command -v faketime >/dev/null || {
  echo "make test-dates needs libfaketime: sudo apt-get install faketime (bash .ci/system-packages.sh test)" >&2
  exit 1
}
for t in "${TESTS[@]}"; do
  [ -e "${t%%::*}" ] || { echo "tests/dates/run.sh lists ${t%%::*}, which does not exist" >&2; exit 1; }
done
[ $# -gt 0 ] && INSTANTS=("$@")
read -r -a extra <<<"${PYTEST_ARGS:--n ${TEST_WORKERS:-2}}"

failed=()
for at in "${INSTANTS[@]}"; do
  echo "== $at UTC = $(TZ=Europe/London date -d "$at UTC" '+%a %-d %b %Y %H:%M %Z') in London"
  if TZ=UTC faketime -f "@$at" .venv/bin/pytest -q -m "not browser" "${extra[@]}" "${TESTS[@]}"; then
    :
  else
    failed+=("$at")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "make test-dates: failed at ${#failed[@]} of ${#INSTANTS[@]} instants (UTC): ${failed[*]}" >&2
  exit 1
fi
echo "make test-dates: passed at all ${#INSTANTS[@]} instants"
