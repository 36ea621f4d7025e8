"""Build aether-memory's retrieval evaluation set for long-term agent memory.

Everything in the set is written by hand in the tables below: four agents (a personal
assistant for Leonor Duarte, a coding agent on the fernhill/platform monorepo, a research
agent, a customer-support agent), their sessions, the memories each session left behind and
the questions asked of them later, each with its gold memories.  The script turns the tables
into JSONL, checks that the set is sound and prints a summary.  It is deterministic
(``random.Random(7)`` only jitters times and importances and shuffles the query order) and
uses the standard library only.

    python eval/make_dataset.py            # writes eval/data/*.jsonl and eval/data/README.md
"""

from __future__ import annotations

import json
import math
import random
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

SEED = 7
OUT_DIR = Path(__file__).resolve().parent / "data"

KINDS = ("fact", "episodic", "semantic", "procedural")
CATEGORIES = (
    "paraphrase",
    "keyword",
    "temporal_update",
    "distractor",
    "near_duplicate",
    "episodic",
)
MIN_MEMORIES = 320
MIN_QUERIES = 160
MIN_TEMPORAL_PAIRS = 25
MIN_UNUSED_MEMORIES = 100
# Importance ranges per hand-assigned weight (high / medium / low).
WEIGHTS = {"H": (0.70, 0.95), "M": (0.45, 0.70), "L": (0.15, 0.45)}

AGENTS = {
    "assistant": "personal assistant for Leonor Duarte, a product designer (Lisbon, later Porto)",
    "coder": "coding agent on Fernhill's fernhill/platform monorepo (billing, payments, ...)",
    "researcher": "research agent: Nordvarme heat-pump study, Aurelia battery brief, lit review",
    "support": "customer-support / ops agent for Fernhill's Ledgerline invoicing product",
}

# session | date | start time (UTC) | what the session was about
SESSIONS = """
assistant-s01 | 2025-10-06 | 09:10 | onboarding: profile, preferences
assistant-s02 | 2025-10-21 | 18:30 | family, hobbies, health
assistant-s03 | 2025-11-04 | 12:05 | planning the London conference trip
assistant-s04 | 2025-11-18 | 19:40 | after the London trip, gift ideas
assistant-s05 | 2025-12-09 | 08:50 | new phone, the dog, health
assistant-s06 | 2025-12-22 | 21:15 | year-end: style change, Kyoto plans
assistant-s07 | 2026-01-13 | 07:55 | new job at Marégrafo, new diet
assistant-s08 | 2026-02-03 | 20:10 | preparing the move
assistant-s09 | 2026-02-24 | 13:30 | movers, broadband, budget
assistant-s10 | 2026-03-16 | 10:05 | after moving day
assistant-s11 | 2026-04-08 | 18:45 | settling in Porto
assistant-s12 | 2026-05-12 | 09:20 | birthdays and Japan bookings
coder-s01 | 2025-10-08 | 10:00 | onboarding to fernhill/platform
coder-s02 | 2025-10-23 | 14:20 | billing-service v2.2.4 release
coder-s03 | 2025-11-06 | 11:00 | chasing the flaky refund test
coder-s04 | 2025-11-20 | 15:30 | storefront build break
coder-s05 | 2025-12-04 | 09:40 | search-indexer OOM
coder-s06 | 2025-12-18 | 16:00 | notification-service retries and release
coder-s07 | 2026-01-14 | 10:30 | branch rename, CI migration
coder-s08 | 2026-01-29 | 13:15 | Python 3.12 upgrade for billing
coder-s09 | 2026-02-10 | 13:50 | billing-service v2.3 release (failed)
coder-s10 | 2026-03-05 | 09:30 | reorg, flags, tooling changes
coder-s11 | 2026-04-02 | 14:00 | reporting, Kafka, idempotency
coder-s12 | 2026-05-06 | 11:10 | maintenance
researcher-s01 | 2025-10-14 | 09:00 | Nordvarme kickoff
researcher-s02 | 2025-10-30 | 10:30 | Nordic subsidies, COP data, installer interview
researcher-s03 | 2025-11-19 | 14:00 | data collection for Norway
researcher-s04 | 2025-12-10 | 09:45 | revised estimates, report styling
researcher-s05 | 2026-01-08 | 11:20 | deadline moved; Aurelia kickoff
researcher-s06 | 2026-02-02 | 15:10 | Nordvarme delivery; Aurelia research
researcher-s07 | 2026-02-25 | 10:00 | recycling plants comparison
researcher-s08 | 2026-03-18 | 13:40 | agent-memory literature review
researcher-s09 | 2026-04-15 | 09:15 | review screening, Finland follow-up
researcher-s10 | 2026-05-26 | 16:30 | review draft and venues
support-s01 | 2025-10-02 | 08:30 | onboarding: accounts, policies
support-s02 | 2025-10-16 | 09:10 | SSO ticket, runbooks, macros
support-s03 | 2025-11-05 | 10:20 | export problems
support-s04 | 2025-11-26 | 14:45 | account notes, error codes
support-s05 | 2025-12-10 | 09:00 | holiday rota, GDPR, discounts
support-s06 | 2026-01-07 | 08:40 | new year: payments, refunds
support-s07 | 2026-02-11 | 09:30 | INC-231 billing outage
support-s08 | 2026-03-04 | 13:00 | escalations, KID hotfix
support-s09 | 2026-03-25 | 10:15 | status page, cache alerts
support-s10 | 2026-04-15 | 08:50 | SLA change, renewals, API scopes
support-s11 | 2026-05-06 | 11:30 | export fix shipped
support-s12 | 2026-05-28 | 09:45 | churn risk, handovers
"""

# session | key | kind | weight | tags | content
# Rows are in the order things happened inside a session.  Keys are only used inside this
# script: ids (m0001...) are assigned in chronological order when the files are written.
MEMORIES = """
assistant-s01 | a.name | fact | M | profile | The user is Leonor Duarte. Close friends call her Leo, but emails should always address her as Leonor.
assistant-s01 | a.city.old | fact | H | home,location | Leonor lives in Lisbon, in a rented flat in the Alvalade neighbourhood.
assistant-s01 | a.job.old | fact | H | work | Leonor works as a senior product designer at Quintal Labs, a fintech startup in Lisbon.
assistant-s01 | a.email.old | fact | M | work,contact | For anything work-related, use her Quintal Labs address leonor.duarte@quintal-labs.pt.
assistant-s01 | a.format.old | semantic | M | preference,style | Prefers answers in bullet points, ideally no more than five bullets.
assistant-s01 | a.meet.old | procedural | H | calendar,preference | Don't schedule any meetings for Leonor before 10:00; early mornings are her deep-work time.
assistant-s01 | a.penicillin | fact | H | health | Leonor is allergic to penicillin; it gave her hives as a child.
assistant-s01 | a.contact | semantic | M | preference,contact | Leonor hates phone calls. Reach her by text message or email instead.
assistant-s01 | a.cal.d1 | procedural | H | calendar,privacy | Leonor asked me never to share her calendar with her manager.
assistant-s01 | a.phone.old | fact | L | devices | Leonor's phone is a Google Pixel 7.
assistant-s01 | a.car.old | fact | M | transport | Leonor doesn't own a car; she gets around Lisbon by metro and on her bike.
assistant-s01 | a.cilantro | semantic | L | food,preference | Leonor can't stand coriander, so leave it out of any recipe suggestions.
assistant-s01 | a.f.news | episodic | L | news | Set up a morning news digest for Leonor: Público headlines, the day's weather and two design newsletters. She wants it in her inbox by 07:30 and short enough to read in five minutes over breakfast.
assistant-s02 | a.bd.ines | fact | M | family,birthday | Leonor's younger sister Inês has her birthday on 14 May.
assistant-s02 | a.bd.rui | fact | M | family,birthday | Her brother Rui was born on 2 September; he usually celebrates with a dinner in Setúbal.
assistant-s02 | a.bd.helena | fact | M | family,birthday | Leonor's mother, Helena, celebrates her birthday on 23 January.
assistant-s02 | a.bd.marta | fact | L | work,birthday | Marta from Leonor's design team has her birthday on 14 June; the team usually chips in for a cake.
assistant-s02 | a.cello | fact | M | hobby,music | Leonor plays cello in an amateur orchestra that rehearses on Sunday evenings.
assistant-s02 | a.gym.old | fact | M | fitness | Leonor goes bouldering at a climbing gym in Alvalade every Tuesday and Thursday after work.
assistant-s02 | a.diet.old | fact | H | food,diet | Leonor is pescatarian: no meat, but fish and eggs are fine.
assistant-s02 | a.coffee.old | semantic | L | food,preference | Leonor drinks flat whites with oat milk, usually two a day.
assistant-s02 | a.lang.old | fact | L | learning | Leonor is learning German on Duolingo for about 20 minutes a day.
assistant-s02 | a.dentist.old | fact | M | health | Leonor's dentist is Dr. Saraiva at Clínica Dentária Roma in Lisbon.
assistant-s02 | a.f.hike | episodic | L | leisure | Sent Leonor three autumn hikes near Sintra with distances and elevation. She picked the Peninha trail for Saturday because it ends near a café, and asked me to check whether dogs are allowed on it (they are, on a lead).
assistant-s02 | a.f.weather | episodic | L | weather | Leonor asked for Saturday's forecast in Sintra: 19 °C with light rain in the afternoon.
assistant-s02 | a.win.d1 | semantic | M | travel,preference | Leonor likes window seats on flights.
assistant-s02 | a.grandma.d1 | procedural | M | family,reminder | Remind Leonor every Sunday afternoon to call her grandmother Rosa.
assistant-s03 | a.tp1947 | fact | M | travel,flight | Booked flight TP1947 from Lisbon to London Heathrow on 12 November, seat 14C.
assistant-s03 | a.tp1352 | fact | M | travel,flight | Return flight TP1352 leaves Heathrow on 15 November and lands in Lisbon at 22:40.
assistant-s03 | a.tomas.flight | fact | L | travel,partner | Tomás is flying TP1974 to Paris on 20 November for an architecture fair.
assistant-s03 | a.london.why | fact | M | travel,work | The London trip is for the Config Europe design conference on 13 and 14 November.
assistant-s03 | a.london.hotel | episodic | M | travel,hotel | Reserved two nights at the Hoxton Holborn for the London trip, confirmation HX-88213.
assistant-s03 | a.passport | fact | H | travel,documents | Leonor's passport expires in August 2026 and has to be renewed before any trip outside the EU after that.
assistant-s03 | a.seasick | semantic | M | travel,health | Leonor gets seasick on boats, so avoid itineraries that include ferries.
assistant-s03 | a.win.d2 | procedural | M | travel,preference | When booking her flights, always choose a window seat; she's insistent about it.
assistant-s03 | a.f.tube | episodic | L | travel | Leonor asked whether her contactless card works on the London Underground; it does, no Oyster card needed.
assistant-s03 | a.bills.d1 | procedural | M | finance,reminder | Leonor wants a reminder 24 hours before any bill is due.
assistant-s04 | a.london.ep1 | episodic | M | travel,hotel | The Hoxton cancelled the London booking two days before arrival because of a flood in the building. Rebooked her at the Premier Inn King's Cross for the same two nights; cheaper, but she complained the room was tiny and the wifi kept dropping.
assistant-s04 | a.london.ep2 | episodic | M | travel,flight | Leonor's flight home from Heathrow was delayed three hours, so she missed the last metro and took a taxi from the airport.
assistant-s04 | a.claim | episodic | M | travel,claim | Filed a delay compensation claim with TAP for her return flight, reference TAP-CL-55021; they reply within eight weeks.
assistant-s04 | a.tomas.allergy | fact | M | partner,health | Tomás, Leonor's partner, is allergic to shellfish, which matters for restaurant bookings.
assistant-s04 | a.gift.ines | semantic | L | family,gifts | Inês has been hinting that she'd love a ceramics workshop voucher.
assistant-s04 | a.gift.rui | semantic | L | family,gifts | Rui collects jazz records on vinyl, especially old Blue Note pressings.
assistant-s04 | a.gift.helena | semantic | L | family,gifts | Leonor's mother already has too many orchids; she'd rather get experiences such as concert tickets.
assistant-s04 | a.f.expenses | episodic | L | work,finance | Reminded Leonor to submit her London conference expenses to Quintal Labs by Friday.
assistant-s04 | a.blood.d1 | fact | M | health | Leonor mentioned she is O negative and donates blood twice a year.
assistant-s04 | a.f.films | episodic | L | leisure | Leonor loved 'Past Lives' and wanted similar films for the weekend; suggested 'Aftersun' and 'Columbus'. She'd already seen 'Aftersun', so she went with 'Columbus' and said it was lovely but slow.
assistant-s05 | a.phone.new | fact | L | devices | Leonor switched from her Pixel to an iPhone 16 this week and moved her calendar to iCloud.
assistant-s05 | a.dog.meds | procedural | M | pet,reminder | Leonor's beagle Biscoito needs his heartworm tablet on the first day of every month.
assistant-s05 | a.vet | fact | M | pet,health | Biscoito's vet is Clínica Veterinária do Bonfim; Dr. Paulo Reis usually sees him.
assistant-s05 | a.vet.ines | fact | L | family,pet | Inês's cat Miso is registered at VetLar in Benfica; Leonor takes him there when Inês travels.
assistant-s05 | a.charity | fact | L | finance,values | Leonor donates €25 a month to RIAS, a wildlife rescue centre in the Algarve.
assistant-s05 | a.lenses | fact | L | health,shopping | Leonor wears daily contact lenses and reorders a three-month supply from Lentes Online.
assistant-s05 | a.colour | fact | H | health,design | Leonor is colour-blind (deuteranopia), so charts and slides shouldn't rely on red versus green.
assistant-s05 | a.f.card | episodic | L | work | Helped Leonor draft a Christmas card message for her team at Quintal Labs.
assistant-s05 | a.cal.d2 | procedural | H | calendar,privacy | Reminder from Leonor: her boss must not be able to see her schedule.
assistant-s05 | a.f.edp | episodic | L | finance | Paid the EDP electricity bill for the Lisbon flat on Leonor's behalf: €64.20.
assistant-s06 | a.format.new | procedural | H | preference,style | Leonor asked for short prose paragraphs instead of bullet lists from now on; she finds bullets too choppy.
assistant-s06 | a.kyoto.old | fact | M | travel,japan | Leonor and Tomás are planning a two-week trip to Kyoto in April 2026, mainly for the cherry blossom. She wants a mix of traditional inn nights and an ordinary hotel, and at most two changes of base.
assistant-s06 | a.f.nye | episodic | L | restaurant | Booked a table for four at Taberna do Largo for New Year's Eve at 20:30.
assistant-s06 | a.library | fact | L | library | Leonor's card for the Biblioteca Municipal de Alvalade is number BMA-20417; loans last three weeks.
assistant-s06 | a.author | semantic | L | books,preference | Her favourite writer is Clarice Lispector; she rereads 'The Hour of the Star' every December.
assistant-s06 | a.spicy | semantic | L | food,preference | Leonor loves very spicy food, the hotter the better.
assistant-s06 | a.bills.d2 | procedural | M | finance,reminder | Leonor repeated that she wants bill reminders a full day before the due date.
assistant-s06 | a.f.pumpkin | episodic | L | food | Leonor came back from the Saturday market with three pumpkins and asked what to do with them; suggested a ginger soup, a roasted salad with chickpeas, and freezing the rest as purée.
assistant-s07 | a.job.new | fact | H | work | Leonor started as design lead at Marégrafo, a maritime logistics startup, on 12 January. She manages two designers and reports to the CPO, Nuno Alves; the first month is mostly onboarding and an audit of the shipment-tracking app.
assistant-s07 | a.email.new | fact | M | work,contact | Her work address is now leonor@maregrafo.io; the Quintal Labs mailbox has been closed.
assistant-s07 | a.diet.new | fact | H | food,diet | Since New Year Leonor eats fully vegan: no fish, eggs or dairy any more.
assistant-s07 | a.coffee.new | semantic | L | food,preference | After her January check-up Leonor switched to black coffee, with no milk of any kind.
assistant-s07 | a.meet.new | procedural | H | calendar,preference | Meetings from 09:00 are fine for Leonor now, because the new job starts earlier.
assistant-s07 | a.f.commute | episodic | L | transport,work | Until the move, Leonor commutes to Porto on the Alfa Pendular train twice a week.
assistant-s07 | a.lang.new | fact | L | learning,japan | Leonor gave up German and now has Japanese lessons with a tutor on Saturday mornings.
assistant-s07 | a.f.linkedin | episodic | L | work | Drafted a LinkedIn post announcing Leonor's new role. She rewrote most of it to sound less corporate, removed the emoji, and thanked her old team at Quintal Labs by name before posting it on Tuesday evening.
assistant-s08 | a.kyoto.new | fact | M | travel,japan | The Kyoto trip moved from April to October because Leonor can't take leave during her probation period.
assistant-s08 | a.lease | episodic | M | home | Leonor signed the lease for the new flat: two bedrooms, third floor, a small balcony facing west, and a garage space included in the rent. The keys are handed over on 14 March.
assistant-s08 | a.cal.d3 | procedural | H | calendar,privacy | Leonor said it again: keep her calendar hidden from her manager, at the new company too.
assistant-s08 | a.piano | fact | L | home,music | Leonor owns an old upright piano inherited from her grandmother; it needs specialist movers.
assistant-s08 | a.ikea | fact | M | home,shopping | IKEA order IK-449120 (PAX wardrobe and MALM bed) will be delivered to the new flat on 2 April.
assistant-s08 | a.ikea.return | episodic | L | home,shopping | IKEA refunded return IK-449012 for the old Lisbon sofa: €310 back on her card.
assistant-s08 | a.grandma.d2 | procedural | M | family,reminder | Keep the Sunday reminder for Leonor to phone her grandmother Rosa; she asked me not to drop it.
assistant-s09 | a.movers | fact | M | home,moving | Booked the removal company MudaJá for 14 March; the quote is €1,380 including the piano.
assistant-s09 | a.tomas.job | fact | M | partner,work | Tomás will keep working remotely for his Lisbon architecture studio after the move.
assistant-s09 | a.broadband | fact | L | home | For the new flat Leonor chose MEO fibre at 1 Gbps; the technician comes on 17 March.
assistant-s09 | a.noise | semantic | M | travel,preference | Leonor sleeps badly with street noise; when booking hotels, ask for a room away from the road.
assistant-s09 | a.budget | fact | M | finance,food | Leonor's monthly budget for eating out is €300; warn her if bookings push past it.
assistant-s09 | a.f.boxes | episodic | L | home,moving | Ordered 40 cardboard boxes and packing tape for the move, delivered to Alvalade.
assistant-s09 | a.f.checklist | episodic | M | home,moving | Went through the moving checklist with Leonor. Done: removal company booked, broadband ordered, boxes delivered. Still open: transfer the electricity contract to the new address, cancel the Lisbon parking permit, forward post through CTT for six months, and return the old flat's keys to the landlord after the final inspection on 20 March.
assistant-s09 | a.f.address | episodic | L | home,admin | Leonor asked how to change her fiscal address on the Finanças portal after the move; sent her the steps. She also needs to update the address on her citizen card, which requires an appointment at a Loja do Cidadão.
assistant-s10 | a.city.new | fact | H | home,location | Leonor moved from Lisbon to Porto in March; the new flat is near Boavista.
assistant-s10 | a.move.ep1 | episodic | M | home,moving | Moving day went badly: MudaJá's truck arrived three hours late, the lift in the new building was out of order so everything went up four flights of stairs, and the movers scratched the side panel of the piano. Leonor was furious but stayed polite.
assistant-s10 | a.move.ep2 | episodic | M | home,moving | Filed a damage claim with MudaJá for the piano, reference MJ-7781; they have offered €150 so far.
assistant-s10 | a.move.ep3 | episodic | L | pet,moving | Biscoito coped with the move but hid under the bed the whole first night.
assistant-s10 | a.f.deliveries | procedural | M | home,shopping | Updated Leonor's delivery address on Amazon, Continente and Glovo to the new flat.
assistant-s11 | a.gym.new | fact | M | fitness | Leonor cancelled the climbing membership; she now swims at the municipal pool on Monday and Wednesday mornings.
assistant-s11 | a.dentist.new | fact | M | health | Registered Leonor with a new dentist in Porto: Dr. Catarina Lobo at Clínica Foz.
assistant-s11 | a.car.new | fact | M | transport | Leonor bought a used Renault Zoe in April; it's parked in the building's garage, space 17.
assistant-s11 | a.f.easter | episodic | L | family | Helena visited for Easter; Leonor asked for restaurants with step-free access because of her mother's knee, ideally somewhere near the river. Booked a Saturday lunch in Ribeira and a quieter place in Foz for Sunday.
assistant-s11 | a.f.serralves | episodic | L | leisure | Leonor asked when the Serralves museum opens on Sundays: 10:00.
assistant-s11 | a.blood.d2 | fact | M | health | Noted again: her blood group is O−, and she gives blood every six months at the IPST centre.
assistant-s12 | a.win.d3 | semantic | M | travel,preference | Prefers the window when flying, so she can lean against the wall and sleep.
assistant-s12 | a.gift.ines.ep | episodic | M | family,gifts | Ordered the ceramics workshop voucher from Oficina Barro for Inês's birthday, as Leonor requested.
assistant-s12 | a.ryokan | fact | M | travel,japan | Booked three nights at Ryokan Yachiyo in Kyoto, reservation RK-5530, free cancellation until 30 days before.
assistant-s12 | a.f.plants | episodic | L | home | Leonor asked how often to water the new olive tree on the balcony; suggested once a week in summer.
assistant-s12 | a.f.weekly | episodic | L | calendar,planning | Weekly planning with Leonor on Sunday evening: three design reviews at work, dinner with Inês on Thursday, a haircut on Friday at 18:00, and the spring concert programme to practise. She asked me to block two hours of focus time on Tuesday and Wednesday mornings and to keep Saturday completely free.
assistant-s12 | a.f.tax | episodic | L | finance | Reminded Leonor that the IRS tax return deadline is 30 June. She wants to file it in early June this year because the move and the job change mean two employers and a change of address to declare.
coder-s01 | c.monorepo | fact | M | repo | The platform code lives in the fernhill/platform monorepo: one folder per service under services/, shared Python libraries under libs/, and Terraform under infra/. Each service has its own pyproject.toml and Dockerfile.
coder-s01 | c.py.old | fact | H | billing,python | billing-service runs on Python 3.11 with Django 4.2.
coder-s01 | c.branch.old | fact | H | git | The default branch of fernhill/platform is master; release tags are cut from it.
coder-s01 | c.test.old | procedural | H | testing | Run the test suite with `make test`; it wraps pytest and coverage.
coder-s01 | c.ci.old | fact | M | ci | CI runs on the self-hosted Jenkins at ci.fernhill.internal, with a Jenkinsfile per service.
coder-s01 | c.merge.old | procedural | M | git,review | Sam prefers squash merges so each PR lands as a single commit.
coder-s01 | c.sam | fact | M | team | Sam Okoye is the tech lead and reviews anything that touches billing or payments.
coder-s01 | c.owner.old | fact | H | payments,ownership | Sam is the code owner for payments-gateway.
coder-s01 | c.prsize.d1 | procedural | M | review | Sam prefers small PRs under 400 lines.
coder-s01 | c.rollback | procedural | H | review | Every PR description must include a rollback plan; Sam rejects PRs without one.
coder-s01 | c.cents | semantic | H | billing,money | Money amounts are stored as integer cents, never as floats.
coder-s01 | c.docker | fact | M | local-dev | Local development needs Docker Compose v2 and at least 8 GB of memory allocated to Docker Desktop.
coder-s01 | c.port.billing | fact | L | local-dev,billing | Locally, billing-service listens on port 8082.
coder-s01 | c.port.auth | fact | L | local-dev,auth | Locally, auth-service listens on port 8081.
coder-s01 | c.port.notif | fact | L | local-dev,notifications | In the local compose setup, notification-service is exposed on port 8084.
coder-s01 | c.nolaptop | procedural | H | migrations,safety | Never run migrations against production from a laptop; use the migrate job in the deploy pipeline.
coder-s01 | c.structlog | procedural | M | logging | Use structlog in the Python services; print statements fail the lint step.
coder-s02 | c.b224.ep1 | episodic | M | billing,deploy | Deployed billing-service v2.2.4 to production; migration 0041 added an index on invoices.customer_id without issues.
coder-s02 | c.b224.ep2 | episodic | L | billing,deploy | Post-deploy checks for billing v2.2.4 passed and p95 latency stayed around 180 ms.
coder-s02 | c.db.billing | fact | M | billing,database | billing-service uses the billing_db database on the pg-main cluster.
coder-s02 | c.db.inventory | fact | M | inventory,database | inventory-service keeps its data in inventory_db on the pg-analytics cluster.
coder-s02 | c.db.auth | fact | L | auth,database | auth-service stores sessions in Redis (redis-auth-1) rather than Postgres.
coder-s02 | c.win.payments | procedural | H | payments,deploy | payments-gateway may only be deployed Tuesday to Thursday, before 16:00 Lisbon time.
coder-s02 | c.win.storefront | procedural | M | storefront,deploy | The storefront can be deployed on any day of the week; rollbacks there are instant.
coder-s02 | c.vercel | fact | M | storefront,hosting | The storefront is hosted on Vercel, with a preview deployment for every branch.
coder-s02 | c.f.rename | episodic | L | billing,refactor | Renamed the helper fmt_money to format_cents across billing-service.
coder-s03 | c.flaky.ep1 | episodic | M | testing,billing | test_refund_partial_currency fails in about 1 of 20 CI runs, and only on runs that start after 23:00 UTC.
coder-s03 | c.flaky.ep2 | episodic | M | testing,billing | Root cause of the flaky refund test: refunds.py calls datetime.now() without a timezone, so when CI runs late in the evening the refund date and the invoice date fall on different days and the partial-refund rounding changes.
coder-s03 | c.flaky.ep3 | episodic | M | testing,billing | Fixed the flaky refund test by injecting a clock into RefundCalculator; PR #2204, merged by Priya.
coder-s03 | c.tzrule | procedural | M | python,review | Always use timezone-aware UTC datetimes in backend code; naive datetimes get flagged in review.
coder-s03 | c.pr2240 | episodic | L | billing,review | Reviewed PR #2240 (invoice CSV export pagination) and asked for tests covering empty pages.
coder-s03 | c.f.mypy | episodic | L | payments,typing | Added type hints to payments-gateway/adapters/sepa.py; mypy --strict passes now.
coder-s04 | c.node.ep1 | episodic | M | storefront,build | The storefront build broke with ERR_OSSL_EVP_UNSUPPORTED right after the webpack bump.
coder-s04 | c.node.ep2 | episodic | M | storefront,build | Upgraded the storefront to Node 20 LTS, which cleared the OpenSSL error. Also updated .nvmrc and the Vercel project settings to match, and checked that the preview builds for open branches still pass.
coder-s04 | c.lint.old | fact | M | storefront,lint | The storefront is linted with ESLint (Airbnb config) and formatted with Prettier.
coder-s04 | c.pr2371 | episodic | L | storefront | PR #2371 bumped the storefront to Next.js 15 and removed the old pages/ router.
coder-s04 | c.images | semantic | L | storefront,images | Product images on the storefront are served through Cloudinary with automatic format and quality.
coder-s04 | c.f.ci.slow | episodic | L | ci | Looked into slow CI: a full pipeline takes about 24 minutes and most of that goes into building Docker images without layer caching. Turning on BuildKit cache mounts should roughly halve it; opened a draft PR to try it on billing-service first.
coder-s05 | c.oom.ep1 | episodic | M | search,incident | search-indexer pods were OOM-killed overnight while reindexing the full catalogue. The job restarted five times and the storefront kept serving a half-built index until morning, so search showed stale prices for about six hours.
coder-s05 | c.oom.ep2 | episodic | H | search,config | search-indexer runs out of memory when batches exceed 5000 documents; set INDEX_BATCH_SIZE=2000 and a 2Gi memory limit.
coder-s05 | c.opensearch | fact | M | search | search-indexer writes to the OpenSearch cluster os-prod (version 2.11) through the index alias products-live.
coder-s05 | c.reindex | procedural | M | search | To reindex safely, build a new products-YYYYMMDD index and swap the products-live alias only after document counts match.
coder-s05 | c.f.cve | episodic | L | security,deps | Bumped requests to 2.32.3 across all services to address CVE-2024-35195.
coder-s06 | c.pr2317 | episodic | M | notifications | PR #2317 added an exponential-backoff retry decorator to notification-service's SendGrid client.
coder-s06 | c.providers | fact | M | notifications | notification-service sends email through SendGrid and SMS through Twilio.
coder-s06 | c.limit.sendgrid | fact | L | notifications,limits | SendGrid throttles us at 600 requests per minute on the current plan.
coder-s06 | c.limit.stripe | fact | L | billing,limits | Stripe allows billing-service about 100 read requests per second in live mode.
coder-s06 | c.notif.fail | episodic | M | notifications,deploy | notification-service v1.8 failed its health checks right after deploy because TWILIO_AUTH_TOKEN was missing in prod. Nobody noticed for twenty minutes since email still worked; added the secret to Vault, redeployed, and SMS recovered.
coder-s06 | c.frozen.d1 | procedural | H | reports | Do not touch the legacy reports_v1 module; it's frozen until Q3.
coder-s06 | c.flags.old | fact | M | flags | Feature flags are managed in LaunchDarkly under the project key fernhill-web.
coder-s06 | c.force.d1 | procedural | M | git | Never force-push to shared branches; open a revert PR instead.
coder-s07 | c.branch.new | fact | H | git | The default branch was renamed from master to main on 12 January; scripts that hardcode master need updating.
coder-s07 | c.ci.new | fact | H | ci | CI moved to GitHub Actions; the old Jenkins server is read-only and will be shut down in spring.
coder-s07 | c.prsize.d2 | procedural | M | review | Reminder: keep pull requests below roughly 400 changed lines, per Sam.
coder-s07 | c.frozen.d2 | procedural | M | reports | reports_v1 is frozen: no changes until Q3, not even small fixes.
coder-s07 | c.gha.cache | fact | L | ci | The CI workflow caches ~/.cache/pip keyed on the hash of the requirements files.
coder-s07 | c.webhook | fact | M | billing,config | BILLING_STRIPE_WEBHOOK_SECRET must be set in staging, otherwise Stripe webhooks get a 401.
coder-s08 | c.py.new | fact | H | billing,python | PR #2291 upgraded billing-service to Python 3.12; Django stays on 4.2 LTS.
coder-s08 | c.pydantic | fact | M | auth,deps | auth-service pins pydantic<2.8 because of a validator regression in 2.8.0.
coder-s08 | c.test.new | procedural | H | testing | Tests now run via `just test`; the Makefile was deleted in the tooling cleanup.
coder-s08 | c.sentry.3qx | fact | M | billing,errors | Sentry issue FERN-3QX: AttributeError in invoice_pdf.render when a customer has no billing address.
coder-s08 | c.sentry.3qz | fact | L | storefront,errors | Sentry issue FERN-3QZ is a noisy warning from the Cloudinary SDK and can be ignored.
coder-s08 | c.celery | fact | M | billing,queues | Celery queue billing-high is consumed by worker pool wp-3; billing-low goes to wp-4.
coder-s08 | c.force.d2 | procedural | M | git | Sam repeated: no force pushes on shared branches, ever; revert through a PR.
coder-s09 | c.b23.ep1 | episodic | M | billing,deploy | Started the production deploy of billing-service v2.3 at 14:05 after Priya signed off on staging.
coder-s09 | c.b23.ep2 | episodic | H | billing,deploy,incident | Deploy of billing-service v2.3 failed: migration 0042 timed out waiting for a lock on the invoices table. The lock was held by the nightly reconciliation job, which had started early, and the pipeline aborted after its 10-minute migration timeout.
coder-s09 | c.b23.ep3 | episodic | H | billing,deploy,incident | Rolled billing-service back to v2.2.4; migration 0042 is marked unapplied and the invoices table is intact.
coder-s09 | c.b23.ep4 | procedural | M | billing,migrations | Before retrying v2.3, split migration 0042 into a concurrent index build and a separate backfill.
coder-s09 | c.mig0043 | fact | L | billing,migrations | Migration 0043 backfills currency codes on old invoices and depends on the previous one.
coder-s09 | c.plat812 | fact | M | payments,jira | Jira ticket PLAT-812: remove the legacy SOAP client from payments-gateway before the bank's June cutoff.
coder-s09 | c.plat821 | fact | L | inventory,jira | PLAT-821 tracks the Kafka consumer-lag dashboard for inventory-service.
coder-s10 | c.owner.new | fact | H | payments,ownership | After the March reorg, payments-gateway ownership moved to Priya Nair's team; Sam is no longer its code owner.
coder-s10 | c.flags.new | fact | H | flags | Feature flags moved off LaunchDarkly to a self-hosted Unleash instance at flags.fernhill.internal.
coder-s10 | c.merge.new | procedural | M | git,review | The team switched from squash merges to rebase merges to keep individual commits in history.
coder-s10 | c.prsize.d3 | procedural | L | review | Sam asked again for PRs smaller than 400 lines; the last one was 1,100.
coder-s10 | c.lint.new | fact | M | storefront,lint | The storefront replaced ESLint and Prettier with Biome for both linting and formatting.
coder-s10 | c.tokens | fact | M | auth,security | auth-service access tokens expire after 15 minutes; refresh tokens last 30 days.
coder-s10 | c.f.standup | episodic | L | team | Standup moved to 09:45 after the reorg so Priya's team can join from Warsaw.
coder-s11 | c.rawsql | semantic | M | reports,database | Reporting jobs use hand-written SQL instead of the Django ORM, to keep query plans predictable.
coder-s11 | c.kafka.inv | fact | M | inventory,kafka | inventory-service publishes stock changes to the Kafka topic inventory.stock.v2.
coder-s11 | c.kafka.orders | fact | M | billing,kafka | billing-service consumes the Kafka topic orders.created.v1 to open draft invoices.
coder-s11 | c.idem.ep | episodic | M | payments | Paired with Priya on payments-gateway idempotency keys. We agreed to keep them in Redis for 24 hours, return the original response on a retry with the same key, and reject a reused key whose request body differs with HTTP 422.
coder-s11 | c.f.selectrel | semantic | L | review,database | Priya prefers explicit select_related over lazy loading in the invoice views.
coder-s11 | c.py.others | fact | M | python | auth-service and notification-service are still on Python 3.11; their upgrade is planned for Q3.
coder-s11 | c.secrets | procedural | H | security,config | Secrets live in Vault under secret/platform/<service>; never commit .env files.
coder-s11 | c.b23.blocked | episodic | L | billing,migrations | The v2.3 retry is still waiting on DBA review of the split migration plan.
coder-s12 | c.f.osclient | episodic | L | search | Upgraded the OpenSearch client to 2.6 in search-indexer; a full reindex took 41 minutes.
coder-s12 | c.f.runbook | episodic | L | billing,docs | Wrote a runbook entry on rotating the Stripe webhook secret without downtime.
coder-s12 | c.f.deps | episodic | L | deps | Ran the monthly dependency update across the monorepo: 14 packages bumped, no breaking changes. The only hiccup was a new deprecation warning from the Celery beat scheduler, which I silenced with a TODO linking to the upstream issue.
coder-s12 | c.f.openapi | episodic | L | payments,docs | Regenerated the OpenAPI docs for payments-gateway after adding the /refunds/{id}/status endpoint.
coder-s12 | c.coverage | fact | M | testing,ci | The coverage gate in CI is 85% for billing-service and 70% for the other services.
coder-s12 | c.f.cleanup | episodic | L | repo,maintenance | Quarterly cleanup in the monorepo: deleted 37 stale branches older than 90 days, removed four unused helpers from libs/, fixed the flaky docker-compose healthcheck for the local Postgres container, and updated CONTRIBUTING.md with the commit message conventions. Took most of the afternoon; nothing user-facing changed and no service was redeployed.
researcher-s01 | r.nv.client | fact | M | nordvarme,client | Client Nordvarme is a Norwegian HVAC distributor; the study covers residential heat pumps in Norway, Sweden and Finland.
researcher-s01 | r.deadline.old | fact | H | nordvarme,deadline | The Nordvarme final report is due on 15 January.
researcher-s01 | r.cite.old | procedural | M | style,citations | Anika wants citations in APA style, with DOIs where available.
researcher-s01 | r.ceo | fact | M | nordvarme,stakeholders | Nordvarme's CEO Ingrid Solberg is sceptical about air-to-water units north of the Arctic Circle.
researcher-s01 | r.scope.nv | semantic | L | nordvarme,scope | Commercial buildings are out of scope for the Nordvarme study; residential only.
researcher-s01 | r.eurostat | fact | M | nordvarme,data | Eurostat table nrg_inf_hptc gives heat pump capacity by country, but Norway coverage stops in 2021.
researcher-s01 | r.est.old | fact | H | nordvarme,estimate | Working estimate: about 110,000 heat pumps were installed in Norway in 2024.
researcher-s01 | r.anika | fact | M | team | Dr. Anika Brandt leads the research team and signs off on every client deliverable.
researcher-s01 | r.meet.old | procedural | L | team,calendar | The weekly check-in with Anika is on Mondays at 11:00.
researcher-s01 | r.client.style | semantic | L | nordvarme,style | Nordvarme prefers reports in English with a Norwegian summary page.
researcher-s02 | r.sub.no | fact | M | nordvarme,policy,norway | Norway: Enova no longer subsidises air-to-air heat pumps for households, only water-borne and ground-source systems.
researcher-s02 | r.sub.se | fact | M | nordvarme,policy,sweden | Sweden: households can deduct 30% of the installation labour for a heat pump through the ROT tax deduction.
researcher-s02 | r.sub.fi | fact | M | nordvarme,policy,finland | Finland: the state grant for replacing oil heating with a heat pump closed to new applications in 2024.
researcher-s02 | r.cop.field | fact | M | nordvarme,performance | Field data from the Trondheim pilot: air-to-water units averaged a COP of 2.6 at −15 °C.
researcher-s02 | r.cop.lab | fact | L | nordvarme,performance | Lab-rated COP for the same units is 3.4 at −7 °C, noticeably better than the field data shows.
researcher-s02 | r.kjell.ep1 | episodic | M | nordvarme,interview | Interviewed Kjell from Varmepumpe Vest in Bergen for about an hour. Installers there are booked ten weeks out, labour shortage is the main bottleneck, and he expects prices to stay flat because demand has cooled since the 2022 energy crisis.
researcher-s02 | r.kjell.ep2 | episodic | L | nordvarme,interview | Kjell also said customers increasingly ask for quieter outdoor units because of complaints from neighbours.
researcher-s02 | r.f.sources | episodic | L | nordvarme,sources | Collected 27 sources on Nordic heat pump markets; 9 of them are in Norwegian.
researcher-s02 | r.f.kickoff | episodic | L | nordvarme,meeting | Kick-off call with Nordvarme's product team: they want a market size per country and a five-year forecast, in English, with every number traceable to a source. Ingrid joined for the last ten minutes.
researcher-s03 | r.scrape.ep1 | episodic | M | nordvarme,data | Tried scraping Finn.no listings that mention 'varmepumpe' to estimate how many homes advertise one. Got blocked after about 2,000 requests, and the terms of service forbid automated collection anyway, so Anika told me to stop.
researcher-s03 | r.scrape.ep2 | episodic | M | nordvarme,data | Dropped the scraping and used the NOVAP installer survey instead: dataset NOVAP-2024-Q3 with 412 responses.
researcher-s03 | r.novap | semantic | M | nordvarme,sources | NOVAP is the Norwegian heat pump association; its quarterly sales statistics are the most reliable source for Norway.
researcher-s03 | r.price | fact | L | nordvarme,prices | An air-to-air heat pump in Norway typically costs NOK 25,000–35,000 installed.
researcher-s03 | r.f.se.share | fact | L | nordvarme,sweden | Sweden has one of the highest heat pump shares in Europe, found in roughly half of single-family homes.
researcher-s03 | r.f.translate | episodic | L | tools | Used DeepL to translate three Norwegian policy PDFs and flagged the terminology for Anika to check.
researcher-s03 | r.noise | fact | L | nordvarme,regulation | Oslo municipality caps outdoor unit noise at 45 dB at the neighbour's wall at night.
researcher-s03 | r.f.method | episodic | M | nordvarme,method | Wrote the methodology note for Nordvarme: market size is built bottom-up from association sales data, cross-checked against import statistics and installer interviews, with a ±15% uncertainty band. Forecasts use three scenarios tied to electricity prices. Anika asked me to move the caveats to the front instead of burying them in an appendix.
researcher-s04 | r.est.new | fact | H | nordvarme,estimate | Revised with the NOVAP data: roughly 86,000 heat pumps were installed in Norway in 2024.
researcher-s04 | r.palette | procedural | M | nordvarme,style | Charts for Nordvarme must use their brand colours: navy #1B2A4A and amber #F2A900.
researcher-s04 | r.f.draft1 | episodic | L | nordvarme,writing | Finished the first draft of the Norway chapter: 11 pages, 23 sources.
researcher-s04 | r.exec.d1 | semantic | M | style | Anika wants every claim in a report backed by at least two independent sources.
researcher-s04 | r.grid | fact | M | nordvarme,energy | Norwegian household electricity prices in 2024 averaged about NOK 1.10 per kWh including grid fees.
researcher-s05 | r.deadline.new | fact | H | nordvarme,deadline | Nordvarme pushed the report deadline to 6 February so that Q4 sales can be included.
researcher-s05 | r.aur.kick | fact | M | aurelia,client | New project: a battery recycling brief for Aurelia Metals on lithium-ion black mass processing in Europe. They are deciding whether to build their own plant or sign offtake agreements with existing recyclers.
researcher-s05 | r.hydro | fact | M | aurelia,technology | Hydrometallurgical recycling recovers about 90–95% of lithium in pilot plants, versus under 50% for pyrometallurgy.
researcher-s05 | r.blackmass | semantic | L | aurelia,glossary | Black mass is the shredded powder of cathode and anode material left after batteries are dismantled.
researcher-s05 | r.folder.old | fact | M | aurelia,files | Aurelia project files are in the shared Google Drive folder 'Aurelia-BR'.
researcher-s05 | r.aur.deadline | fact | M | aurelia,deadline | The Aurelia brief is due on 27 March.
researcher-s05 | r.cobalt | fact | L | aurelia,markets | Cobalt prices fell about 25% in 2024, squeezing recycling margins on NMC cells.
researcher-s06 | r.cite.new | procedural | H | style,citations | For the final Nordvarme report, Anika switched us to IEEE numeric citations.
researcher-s06 | r.nv.done.ep | episodic | M | nordvarme,delivery | Delivered the Nordvarme report on 5 February: 48 pages plus the Norwegian summary. Ingrid was happy with the Norway and Sweden chapters and asked for a short follow-up on the Finnish market before their board meeting.
researcher-s06 | r.eureg | fact | M | aurelia,policy | The EU Batteries Regulation requires 50% lithium recovery by the end of 2027 and 80% by the end of 2031.
researcher-s06 | r.tomasz | fact | M | aurelia,stakeholders | Aurelia's contact is Tomasz Wójcik, their head of strategy.
researcher-s06 | r.onepage.d1 | semantic | M | aurelia,style | Tomasz wants a one-page executive summary at the top of every deliverable.
researcher-s06 | r.exec.d2 | semantic | M | style | Reminder from Anika: no claim goes into a report unless two independent sources support it.
researcher-s06 | r.lfp | semantic | M | aurelia,technology | LFP cells contain no cobalt or nickel, so recyclers earn far less per tonne from them than from NMC cells.
researcher-s06 | r.f.proof | episodic | L | nordvarme,writing | Proofread the Nordvarme report and fixed twelve inconsistent unit labels (kW versus kWh).
researcher-s07 | r.folder.new | fact | M | aurelia,files | Aurelia files moved from Google Drive to the SharePoint site 'BattRec'; the Drive folder is archived.
researcher-s07 | r.plant.nk | fact | M | aurelia,plants,norway | Nordkrets Recycling in Fredrikstad processes about 12,000 tonnes of battery packs a year.
researcher-s07 | r.plant.volt | fact | M | aurelia,plants,germany | Voltara's hub in Magdeburg has capacity for 25,000 tonnes a year, but construction was paused in 2025.
researcher-s07 | r.plant.cyc | fact | L | aurelia,plants,belgium | Cyclone Metals in Antwerp runs a 7,000-tonne-per-year pyrometallurgical line.
researcher-s07 | r.meet.new | procedural | L | team,calendar | Anika moved our weekly check-in to Wednesdays at 14:00.
researcher-s07 | r.onepage.d2 | semantic | M | aurelia,style | Tomasz asked again for a single-page executive summary before any of the detail.
researcher-s07 | r.f.call | episodic | L | aurelia,meeting | Call with Tomasz: he wants the brief to compare at least three European recycling plants.
researcher-s07 | r.f.table | episodic | L | aurelia,writing | Built the plant comparison table on the 'capacity' sheet, with a source for every row.
researcher-s08 | r.lr.scope.old | procedural | M | litreview,scope | For the literature review on long-term memory for LLM agents, include papers from 2020 onwards.
researcher-s08 | r.paper.kessler | fact | M | litreview,papers | Kessler et al. 2024, 'Episodic Buffers for Tool-Using Agents' (arXiv:2405.11873), reports an 18% gain on multi-session QA by keeping a bounded buffer of recent tool results next to a long-term store.
researcher-s08 | r.paper.haddad | fact | M | litreview,papers | Haddad and Lin 2023 (arXiv:2311.04492) find that recency-weighted retrieval hurts on questions about old facts.
researcher-s08 | r.paper.osei | fact | M | litreview,papers | Osei et al. 2025 (arXiv:2502.07318) consolidate episodic logs into semantic summaries every night.
researcher-s08 | r.locomo | semantic | L | litreview,benchmarks | Most long-conversation benchmarks cover dialogues under 300 turns, which Anika thinks is too short.
researcher-s08 | r.hybrid.d1 | semantic | M | litreview,retrieval | Anika thinks hybrid retrieval (BM25 plus embeddings) beats either one alone for agent memory.
researcher-s08 | r.zotero | fact | M | litreview,tools | The shared Zotero library for the review is called 'agent-memory-lit'; tag papers 'read' or 'skim'.
researcher-s08 | r.aur.done.ep | episodic | M | aurelia,delivery | Delivered the Aurelia brief on 26 March; Tomasz wants a workshop with their board in May.
researcher-s08 | r.f.reading | episodic | L | litreview | Read the Osei paper twice; its consolidation step resembles what our team prototyped last year.
researcher-s09 | r.lr.scope.new | procedural | M | litreview,scope | Anika narrowed the review to papers from 2023 onwards; older work only gets a background paragraph.
researcher-s09 | r.lr.screen.ep | episodic | M | litreview,progress | Screened 64 abstracts and kept 19 papers for full reading, mostly from NeurIPS and ACL 2024–2025. Dropped anything that only evaluates single-session chat, and two papers whose code and data are not public.
researcher-s09 | r.fi.ep | episodic | M | nordvarme,finland | Sent Ingrid the Finnish market follow-up: three pages, estimating 68,000 heat pump installations in Finland in 2024.
researcher-s09 | r.hybrid.d2 | semantic | M | litreview,retrieval | Anika's view: combining keyword and dense retrieval outperforms using just one of them.
researcher-s09 | r.f.scholar | episodic | L | tools | Set up Semantic Scholar alerts for 'agent memory' and 'retrieval-augmented generation'.
researcher-s09 | r.embed | fact | M | litreview,retrieval | Across the 19 papers, the most common embedding model is a 768-dimensional sentence encoder; only three use rerankers.
researcher-s09 | r.recall | semantic | M | litreview,evaluation | Most papers report recall@k for memory retrieval, but few measure how stale memories are handled.
researcher-s10 | r.hybrid.d3 | semantic | M | litreview,retrieval | Again Anika stressed that mixing lexical and vector search works better than relying on either method.
researcher-s10 | r.lr.draft.ep | episodic | M | litreview,progress | Sent Anika the first full draft of the literature review: 14 pages and 41 references.
researcher-s10 | r.cikm | fact | M | litreview,deadlines | The submission deadline for the CIKM 2026 short-paper track is 2 June.
researcher-s10 | r.memagents | fact | L | litreview,deadlines | The MemAgents workshop at ICML accepts four-page papers until 20 May.
researcher-s10 | r.lr.feedback | episodic | L | litreview | Anika's comments on the draft: tighten the related-work section, add a table of benchmarks, cut the history of retrieval-augmented generation to one paragraph, and be explicit about which claims come from preprints.
researcher-s10 | r.f.holiday | episodic | L | team | Anika is on holiday from 8 to 19 June; urgent questions go to Lukas instead.
support-s01 | s.kestrel.old | fact | H | kestrel,plan | Kestrel Logistics is on the Growth plan with 25 seats.
support-s01 | s.bw.contact.old | fact | H | brightwell,contact | The primary contact at Brightwell Dental is Dr. Owen Hale, the practice owner.
support-s01 | s.bw.hours | fact | M | brightwell,hours | Brightwell Dental's office closes at 15:00 on Fridays, so call them in the morning.
support-s01 | s.sla.old | fact | H | sla,enterprise | The Enterprise first-response SLA is 4 hours on business days.
support-s01 | s.esc.old | procedural | H | escalation,billing | Billing incidents escalate to Sam Okoye on the platform team.
support-s01 | s.status.old | fact | M | statuspage | The public status page is hosted on Statuspage.io at status.fernhill.io.
support-s01 | s.orchard.pay.old | fact | M | orchard,payments | Orchard & Vine pays monthly by credit card.
support-s01 | s.tone | procedural | M | style | Write to customers in plain language, never blame them, and sign off with your first name.
support-s01 | s.product | fact | M | product | Ledgerline is Fernhill's invoicing product; support covers the web app, the API and the payment integrations.
support-s01 | s.eta.d1 | procedural | H | policy,roadmap | Don't give customers ETAs for features; just say it's on the roadmap.
support-s01 | s.hours | fact | M | policy | Support hours are 08:00–20:00 Lisbon time on weekdays; outside that only Enterprise gets paged.
support-s02 | s.sup4417 | episodic | M | halvorsen,sso | SUP-4417: Halvorsen Marine couldn't log in after their SSO certificate rotation. Tier 2 found the old certificate still cached in our SAML configuration; re-uploading their IdP metadata fixed it within the hour.
support-s02 | s.rb017 | procedural | M | runbook,exports | Runbook RB-017, restarting the export workers: drain the queue first, then roll the pods one at a time.
support-s02 | s.rb071 | procedural | L | runbook,email | Runbook RB-071 covers rotating the SMTP credentials used for outbound invoice emails.
support-s02 | s.refund.macro | procedural | M | refunds,macros | For refunds older than 30 days, use the macro Refund-Over-30-Days and get approval from finance.
support-s02 | s.pinecrest.disc | fact | M | pinecrest,pricing | Pinecrest Schools is a non-profit and gets a 40% discount; renewals need the signed discount addendum.
support-s02 | s.sso.d1 | procedural | M | sso,routing | SSO and SAML questions go straight to tier 2; tier 1 shouldn't troubleshoot them.
support-s02 | s.f.shadow | episodic | L | training | Shadowed Lena on the morning queue: 31 tickets, mostly password resets and questions about changing the invoice logo. She answers the simple ones from macros and tags anything about payments for a second look.
support-s02 | s.tiers | fact | L | team | Tier 1 is Lena, Marco and me; tier 2 is the platform on-call engineer.
support-s03 | s.sup4471 | episodic | M | kestrel,exports | SUP-4471: Kestrel Logistics reports that CSV export of invoices times out for date ranges over six months. They export the whole year every quarter for their auditors, so this is blocking for them.
support-s03 | s.kestrel.wa | episodic | M | kestrel,exports | Gave Kestrel a workaround for the export timeout: export month by month, or pull CSV from the /v2/invoices API endpoint.
support-s03 | s.orchard.export | episodic | M | orchard,exports | Orchard & Vine's export failures had a different cause: an emoji in a customer name broke the CSV encoder, so every export containing that customer failed. Engineering fixed the encoding in release 4.12.1.
support-s03 | s.dbprod3 | fact | M | infra,database | db-prod-3 is the read replica used by reporting and exports; replication-lag alerts fire above 30 seconds.
support-s03 | s.dbprod2 | fact | L | infra,database | db-prod-2 is the primary database for the EU region; never run ad-hoc queries against it.
support-s03 | s.f.queue | episodic | L | queue | Cleared 22 tickets from the backlog; the oldest was nine days old.
support-s03 | s.mistake | episodic | M | lessons | Sent a reply meant for Kestrel to Orchard & Vine by mistake. Nothing sensitive was in it, but I apologised to both, and now I double-check the recipient before sending anything from a shared macro.
support-s04 | s.halvorsen | fact | M | halvorsen,invoicing | Halvorsen Marine invoices in NOK and needs the Norwegian KID payment reference on every invoice.
support-s04 | s.bruno.d1 | semantic | M | kestrel,contact | Kestrel's finance lead Bruno prefers Slack Connect over email.
support-s04 | s.ebill402 | fact | M | errors,billing | Error E-BILL-402 means the customer's card was declined during plan renewal.
support-s04 | s.ebill420 | fact | L | errors,billing | Error E-BILL-420 means the invoice number sequence collided; that one needs engineering.
support-s04 | s.halvorsen.contact | fact | M | halvorsen,contact | At Halvorsen Marine the IT contact is Sindre Berg; invoices go to their accounts team.
support-s04 | s.pinecrest.contact | fact | L | pinecrest,contact | Pinecrest Schools' bursar, Mrs. Adeyemi, signs all their contracts.
support-s05 | s.holiday | procedural | M | rota,holidays | Over the holidays (24 Dec to 2 Jan) support runs a reduced rota, but Enterprise tickets still get paged.
support-s05 | s.sup4502 | episodic | M | pinecrest,invoicing | SUP-4502: Pinecrest Schools asked for invoices addressed to the district office instead of to each school.
support-s05 | s.orchard.owner | fact | L | orchard,contact | Orchard & Vine is run by sisters Clara and Joana Mendes; Clara handles billing questions.
support-s05 | s.gdpr | procedural | H | privacy,gdpr | Data deletion requests must be confirmed in writing and completed within 30 days; log them in the DPO sheet.
support-s05 | s.eta.d2 | procedural | M | policy,roadmap | Reminder from Lena: never commit to delivery dates for features when talking to customers.
support-s05 | s.bw.discount | fact | L | brightwell,pricing | Brightwell Dental has a 10% loyalty discount until June 2026.
support-s05 | s.pw.reset | procedural | M | accounts,security | Password resets: never send a reset link to an address that isn't already on the account.
support-s06 | s.csat.dec | fact | L | metrics | December CSAT was 91%, up from 87% in November.
support-s06 | s.orchard.pay.new | fact | M | orchard,payments | Orchard & Vine switched from monthly card payments to annual invoicing paid by bank transfer.
support-s06 | s.sup4588 | episodic | M | brightwell,refunds | SUP-4588: Brightwell Dental was double-charged in December; refunded €89 and noted it on their account.
support-s06 | s.bruno.d2 | semantic | M | kestrel,contact | Bruno at Kestrel wants updates in the shared Slack Connect channel, not by email.
support-s06 | s.f.macro | episodic | L | macros | Updated the 'Welcome to Ledgerline' macro with the new onboarding video link.
support-s06 | s.chargeback | procedural | M | payments,disputes | Chargebacks go to finance within one business day; attach the invoice PDF and the customer's usage log.
support-s06 | s.f.rota | episodic | L | rota | The holiday rota went smoothly: four Enterprise pages, none of them urgent.
support-s07 | s.inc231.ep1 | episodic | H | incident,billing | INC-231 (10 February): while the billing deploy was failing, invoice generation was paused for about 50 minutes. Customers with scheduled invoices at 14:00 got them late, and three Enterprise accounts opened tickets asking whether their invoices were lost.
support-s07 | s.inc231.ep2 | episodic | M | incident,billing,email | During INC-231 some customers got duplicate 'invoice ready' emails; we sent the apology template to 37 accounts.
support-s07 | s.inc231.ep3 | episodic | M | incident,postmortem | INC-231 postmortem: a long-running database migration held a table lock; the action item is to make migrations online.
support-s07 | s.kestrel.new | fact | H | kestrel,plan | Kestrel Logistics upgraded to the Enterprise plan in February and now has 60 seats.
support-s07 | s.bw.contact.new | fact | H | brightwell,contact | Brightwell Dental's new admin contact is Fiona Marsh; Dr. Hale has stepped back from the practice.
support-s07 | s.inc.comms | procedural | M | incident,comms | During incidents, post the first status update within 15 minutes, then every 30 minutes.
support-s08 | s.esc.new | procedural | H | escalation,billing | Billing escalations now go to Priya Nair's rotation through the PagerDuty schedule BILL-PRIMARY.
support-s08 | s.sup4620 | episodic | M | halvorsen,invoicing | SUP-4620: Halvorsen Marine's March invoices were missing the KID reference after a template change; hotfix 4.14.2 restored it.
support-s08 | s.vat | procedural | M | tax,macros | When a customer asks about VAT reverse charge, send the EU-Reverse-Charge macro and check their VAT ID in VIES.
support-s08 | s.sso.d2 | procedural | M | sso,routing | Reminder: tier 1 hands every SAML or SSO issue to tier 2 without troubleshooting it.
support-s08 | s.f.training | episodic | L | training | Ran a 30-minute session for new hires on the refund macros.
support-s08 | s.kestrel.sites | fact | L | kestrel | Kestrel Logistics runs depots in Leeds, Rotterdam and Porto, each invoiced as a separate billing entity.
support-s09 | s.status.new | fact | M | statuspage | The status page moved from Statuspage.io to Instatus; the URL status.fernhill.io stays the same.
support-s09 | s.redis2 | procedural | M | infra,cache | If the redis-cache-2 eviction alert fires, scale the cache up before restarting anything; evictions make dashboards slow.
support-s09 | s.oncall.ep | episodic | L | oncall | Covered on-call for Marco over the weekend: two pages, both false alarms from the disk alert on the reporting replica. Suggested raising the threshold from 80% to 90%, since the volume grows predictably and is cleaned up nightly.
support-s09 | s.orchard.vat | fact | L | orchard,tax | Orchard & Vine's VAT ID is PT509876543, verified in VIES on 25 March.
support-s09 | s.sup4655 | episodic | M | orchard,invoicing | SUP-4655: Orchard & Vine's annual invoice showed the wrong VAT rate; reissued it at 23%.
support-s10 | s.sla.new | fact | H | sla,enterprise | From April, the Enterprise first-response SLA is 1 hour, around the clock.
support-s10 | s.pinecrest.ep | episodic | M | pinecrest,renewal | Pinecrest Schools' renewal stalled because the discount addendum wasn't signed. Their bursar was on leave, so nobody could sign it; sent a DocuSign reminder and asked the account manager to extend the grace period by two weeks.
support-s10 | s.kestrel.api | fact | M | kestrel,api | Kestrel integrates through the REST API with an invoices:read key; in SUP-4701 they asked for invoices:write.
support-s10 | s.f.backlog | episodic | L | queue | Backlog is down to 14 open tickets after the Easter week.
support-s10 | s.f.sup4688 | episodic | L | brightwell | SUP-4688: Brightwell asked how to add a second location; sent them the multi-entity guide.
support-s11 | s.sup4471.close | episodic | M | kestrel,exports | Closed SUP-4471: Kestrel's long CSV exports work again since release 4.15.0 added streaming exports.
support-s11 | s.bruno.d3 | semantic | M | kestrel,contact | Again Kestrel's Bruno asked us to use Slack Connect instead of emailing him.
support-s11 | s.f.survey | episodic | L | metrics | Sent the quarterly satisfaction survey to all Enterprise accounts.
support-s11 | s.sup4701.ep | episodic | M | kestrel,api | SUP-4701 update: engineering approved invoices:write for Kestrel's API key after a security review.
support-s12 | s.f.handover | episodic | L | team | Handed the Pinecrest renewal over to Lena while I cover the API queue.
support-s12 | s.api.rate | fact | M | api,limits | The public Ledgerline API allows 120 requests per minute per key; bursts above that get HTTP 429.
support-s12 | s.f.helpdoc | episodic | L | docs | Fixed a broken link in the help-centre article about exporting invoices.
support-s12 | s.churn | episodic | M | halvorsen,churn | Halvorsen Marine warned they may not renew in September unless invoices can be issued in more than one currency; their Danish and Swedish customers keep asking for local-currency invoices. Logged it as a churn risk for the account manager.
support-s12 | s.f.cover | episodic | L | team | Lena is out from 2 to 6 June; Marco covers the Enterprise queue.
support-s12 | s.f.monthly | episodic | M | metrics,report | Monthly support report for May: 412 tickets, median first response 38 minutes, CSAT 92%. Top themes were invoice exports, VAT questions from Portuguese customers and API key scopes. Two escalations to engineering, both closed. Suggested a help-centre article on reverse charge to cut down repeat VAT tickets next month.
"""  # noqa: E501, RUF001

# category | agent ("-" = unscoped) | gold keys | hard negatives | exact term | query
# Hard negatives are the memories a ranker is most likely to confuse with the gold: the
# superseded fact for temporal_update, the look-alike for distractor, the near-miss id for
# keyword.  A keyword query's exact term is in at least one gold memory and in no other.
QUERIES = """
paraphrase | assistant | a.name | - | - | What nickname do her close mates use?
paraphrase | assistant | a.penicillin | - | - | Which antibiotic should doctors avoid giving her?
paraphrase | assistant | a.contact | a.f.commute | - | What's the best way to get hold of her? Should I ring?
paraphrase | assistant | a.cilantro | a.spicy | - | Which herb should stay out of dishes I recommend?
paraphrase | assistant | a.cello | - | - | What instrument does she play, and when does the group practise?
paraphrase | assistant | a.passport | - | - | When does my travel document run out?
paraphrase | assistant | a.seasick | - | - | Why should I avoid sea crossings when planning her trips?
paraphrase | assistant | a.dog.meds | a.vet | - | When is the pet's parasite pill due?
paraphrase | assistant | a.charity | - | - | Which cause does she give money to regularly?
paraphrase | assistant | a.lenses | - | - | Where does she buy her eye care supplies?
paraphrase | assistant | a.colour | - | - | What visual condition should I keep in mind when making graphs for her?
paraphrase | assistant | a.author | - | - | Whose novels does she love most?
paraphrase | assistant | a.broadband | - | - | Which broadband company did she sign up with for the new place?
paraphrase | assistant | a.noise | - | - | What should I request when reserving accommodation so she can rest properly?
paraphrase | assistant | a.spicy | a.cilantro | - | Does she enjoy dishes with lots of chilli heat?
paraphrase | assistant | a.budget | - | - | How much can she spend per month dining at restaurants?
paraphrase | assistant | a.london.why | a.tp1947,a.london.hotel | - | What event took her to England in the autumn?
paraphrase | assistant | a.f.films | - | - | What movies did I recommend after she enjoyed that Korean-American romance?
paraphrase | assistant | a.f.tube | - | - | Does she need a special transit pass to ride the Tube?
paraphrase | assistant | a.piano | a.move.ep1,a.movers | - | What family heirloom needs special handling when she relocates?
paraphrase | assistant | a.f.easter | - | - | Why did I look for restaurants without stairs in spring?
paraphrase | assistant | a.f.tax | - | - | By when must her annual income declaration be submitted?
paraphrase | coder | c.rollback | c.sam | - | What section does the tech lead insist on in every change description, for undoing it?
paraphrase | - | c.cents | - | - | How are prices represented in the database?
paraphrase | coder | c.docker | - | - | What do I need installed, and how much RAM, to spin up the stack on my machine?
paraphrase | coder | c.nolaptop | - | - | How should schema changes reach the live database?
paraphrase | coder | c.structlog | - | - | Which library should I emit log lines with?
paraphrase | coder | c.vercel | c.win.storefront | - | Where is the customer-facing web shop hosted?
paraphrase | coder | c.reindex | c.oom.ep1 | - | How do I rebuild the catalogue for search without breaking what shoppers see?
paraphrase | coder | c.tokens | - | - | How long can someone stay logged in before they must sign in again?
paraphrase | coder | c.rawsql | - | - | Why don't the analytics batch tasks go through the object-relational mapper?
paraphrase | coder | c.secrets | - | - | Where are credentials for each service kept?
paraphrase | coder | c.tzrule | c.flaky.ep2 | - | What rule do reviewers apply to date and time handling on the backend?
paraphrase | coder | c.images | - | - | Which CDN delivers the pictures for the shop?
paraphrase | coder | c.coverage | - | - | What's the minimum share of code exercised by tests before the billing pipeline fails?
paraphrase | researcher | r.ceo | - | - | Which product type does the client's chief executive doubt for the far north?
paraphrase | researcher | r.hydro | r.eureg | - | How much of the lithium can be reclaimed via the wet-chemistry route?
paraphrase | researcher | r.blackmass | - | - | What's the term for the ground-up electrode residue from spent cells?
paraphrase | researcher | r.paper.haddad | - | - | Which study found that favouring newer entries damages answers about things learned long ago?
paraphrase | researcher | r.paper.osei | r.f.reading | - | Which paper condenses raw interaction histories into knowledge overnight?
paraphrase | researcher | r.lfp | r.cobalt | - | Why are iron-phosphate batteries less lucrative to reprocess?
paraphrase | researcher | r.noise | - | - | How loud may an exterior compressor be after dark in the Norwegian capital?
paraphrase | researcher | r.price | - | - | What's the going rate in kroner to have an air-source unit put in at home?
paraphrase | researcher | r.client.style | r.nv.client | - | In which languages should the HVAC distributor's deliverable be written?
paraphrase | researcher | r.grid | - | - | What did homes in Norway pay per unit of power in 2024?
paraphrase | researcher | r.recall | - | - | What metric do studies use to score memory lookup, and what do they neglect?
paraphrase | researcher | r.embed | - | - | What type of text-embedding network do the shortlisted studies rely on?
paraphrase | support | s.bw.hours | - | - | When's the best time to ring the dental practice at the end of the week?
paraphrase | support | s.gdpr | - | - | How long do we have to erase someone's personal information after they ask?
paraphrase | support | s.pw.reset | - | - | Can I mail a recovery URL to whatever inbox the caller asks for?
paraphrase | support | s.chargeback | - | - | What do we do when a customer disputes a card payment with their bank?
paraphrase | support | s.inc.comms | - | - | How frequently must we communicate publicly during an outage?
paraphrase | support | s.halvorsen | s.sup4620 | - | Which currency is the boat business billed in?
paraphrase | support | s.tone | - | - | What is the customer-facing writing style we follow?
paraphrase | support | s.hours | - | - | When is the help desk staffed?
paraphrase | support | s.api.rate | - | - | How many calls a minute can an integration make before getting throttled?
paraphrase | support | s.churn | - | - | Which customer might leave us in the autumn, and why?
paraphrase | support | s.vat | - | - | What do I do when a company in another EU country wonders why no sales tax was charged?
paraphrase | support | s.redis2 | - | - | Why do dashboards sometimes crawl, and what's the first response?
paraphrase | support | s.kestrel.sites | - | - | Which customer operates warehouses in three countries?
paraphrase | support | s.pinecrest.disc | s.bw.discount | - | How much cheaper is the education charity's subscription?
keyword | assistant | a.tp1947 | a.tomas.flight,a.tp1352 | TP1947 | Which seat did I get on TP1947?
keyword | assistant | a.london.hotel | a.london.ep1 | HX-88213 | Which hotel was confirmation HX-88213 for?
keyword | assistant | a.claim | - | TAP-CL-55021 | What is claim TAP-CL-55021 about?
keyword | assistant | a.library | - | BMA-20417 | Which library is card BMA-20417 for?
keyword | assistant | a.ikea | a.ikea.return | IK-449120 | When is IKEA order IK-449120 arriving?
keyword | assistant | a.move.ep2 | a.move.ep1 | MJ-7781 | What is reference MJ-7781?
keyword | assistant | a.ryokan | a.kyoto.new | RK-5530 | Where is reservation RK-5530?
keyword | assistant | a.f.nye | - | Taberna do Largo | When is our table at Taberna do Largo?
keyword | assistant | a.gift.ines.ep | a.gift.ines | Oficina Barro | What did I order from Oficina Barro?
keyword | - | c.b23.ep2,c.b23.ep3,c.b23.ep4 | c.b224.ep1,c.mig0043 | migration 0042 | What happened with migration 0042?
keyword | coder | c.flaky.ep1 | c.flaky.ep2 | test_refund_partial_currency | How often does test_refund_partial_currency fail?
keyword | coder | c.pr2317 | c.pr2371 | PR #2317 | What did PR #2317 change?
keyword | coder | c.flaky.ep3 | - | PR #2204 | Who merged PR #2204?
keyword | coder | c.node.ep1,c.node.ep2 | - | ERR_OSSL_EVP_UNSUPPORTED | How did we get rid of ERR_OSSL_EVP_UNSUPPORTED in the storefront build?
keyword | coder | c.oom.ep2 | c.oom.ep1 | INDEX_BATCH_SIZE | What value should INDEX_BATCH_SIZE have?
keyword | coder | c.webhook | c.f.runbook | BILLING_STRIPE_WEBHOOK_SECRET | What happens if BILLING_STRIPE_WEBHOOK_SECRET is missing?
keyword | coder | c.sentry.3qx | c.sentry.3qz | FERN-3QX | What is Sentry issue FERN-3QX?
keyword | coder | c.plat812 | c.plat821 | PLAT-812 | What is PLAT-812 about?
keyword | coder | c.celery | - | billing-high | Which worker pool consumes billing-high?
keyword | coder | c.pydantic | - | pydantic | Why is pydantic pinned in auth-service?
keyword | coder | c.notif.fail | - | TWILIO_AUTH_TOKEN | What went wrong with TWILIO_AUTH_TOKEN?
keyword | coder | c.py.new | - | PR #2291 | What did PR #2291 do?
keyword | - | c.kafka.inv | c.kafka.orders | inventory.stock.v2 | What gets published on inventory.stock.v2?
keyword | researcher | r.paper.kessler | r.paper.haddad,r.paper.osei | 2405.11873 | What does arXiv:2405.11873 report?
keyword | researcher | r.eurostat | - | nrg_inf_hptc | What is missing from nrg_inf_hptc?
keyword | researcher | r.scrape.ep2 | r.novap | NOVAP-2024-Q3 | How many responses are in NOVAP-2024-Q3?
keyword | researcher | r.palette | - | F2A900 | Where do we use #F2A900?
keyword | researcher | r.zotero | - | agent-memory-lit | What is agent-memory-lit?
keyword | researcher | r.plant.nk | r.plant.volt,r.plant.cyc | Nordkrets | How much does Nordkrets process per year?
keyword | researcher | r.cikm | r.memagents | CIKM | When is the CIKM deadline?
keyword | support | s.sup4471,s.sup4471.close | s.sup4417 | SUP-4471 | What was SUP-4471 about, and which release closed it?
keyword | support | s.sup4417 | s.sup4471 | SUP-4417 | How was SUP-4417 fixed?
keyword | support | s.rb017 | s.rb071 | RB-017 | What are the steps in RB-017?
keyword | support | s.ebill402 | s.ebill420 | E-BILL-402 | What does E-BILL-402 mean?
keyword | support | s.dbprod3 | s.dbprod2 | db-prod-3 | What is db-prod-3 used for?
keyword | support | s.inc231.ep1,s.inc231.ep2,s.inc231.ep3 | - | INC-231 | What do we know about INC-231?
keyword | support | s.esc.new | - | BILL-PRIMARY | Whose rotation is BILL-PRIMARY?
keyword | support | s.kestrel.api,s.sup4701.ep | - | SUP-4701 | What did Kestrel ask for in SUP-4701, and was it granted?
keyword | support | s.orchard.vat | - | PT509876543 | Whose VAT ID is PT509876543?
keyword | support | s.refund.macro | - | Refund-Over-30-Days | When do I use Refund-Over-30-Days?
keyword | - | s.redis2 | c.db.auth | redis-cache-2 | What should I do when redis-cache-2 alerts?
temporal_update | assistant | a.city.new | a.city.old | - | Which city is Leonor living in these days?
temporal_update | assistant | a.job.new | a.job.old | - | Where does Leonor work at the moment?
temporal_update | assistant | a.email.new | a.email.old | - | What email should I use to reach Leonor about work?
temporal_update | assistant | a.format.new | a.format.old | - | How should I format my answers for Leonor?
temporal_update | assistant | a.coffee.new | a.coffee.old | - | How does Leonor take her coffee now?
temporal_update | assistant | a.meet.new | a.meet.old | - | What's the earliest time I can book a meeting for her?
temporal_update | assistant | a.phone.new | a.phone.old | - | Which phone does Leonor use now?
temporal_update | assistant | a.car.new | a.car.old | - | Does Leonor have a car?
temporal_update | assistant | a.diet.new | a.diet.old | - | What is my diet at the moment, so you can suggest recipes?
temporal_update | assistant | a.lang.new | a.lang.old | - | Which language is Leonor studying right now?
temporal_update | assistant | a.kyoto.new | a.kyoto.old | - | When are Leonor and Tomás going to Kyoto?
temporal_update | assistant | a.dentist.new | a.dentist.old | - | Who is my dentist?
temporal_update | assistant | a.gym.new | a.gym.old | - | What does Leonor do for exercise these days?
temporal_update | - | c.py.new | c.py.old,c.py.others | - | Which Python version does billing-service run on?
temporal_update | coder | c.branch.new | c.branch.old | - | What's the default branch of the platform repo?
temporal_update | coder | c.test.new | c.test.old | - | How do I run the test suite?
temporal_update | coder | c.ci.new | c.ci.old | - | Which CI system runs our pipelines?
temporal_update | coder | c.owner.new | c.owner.old,c.sam | - | Who owns payments-gateway?
temporal_update | coder | c.flags.new | c.flags.old | - | Where are feature flags managed?
temporal_update | coder | c.merge.new | c.merge.old | - | Which merge strategy should I use for PRs?
temporal_update | coder | c.lint.new | c.lint.old | - | Which tool lints and formats the storefront?
temporal_update | researcher | r.est.new | r.est.old | - | How many heat pumps were installed in Norway in 2024, by our estimate?
temporal_update | researcher | r.deadline.new | r.deadline.old | - | When is the Nordvarme report due?
temporal_update | researcher | r.cite.new | r.cite.old | - | Which citation style should the Nordvarme report use?
temporal_update | researcher | r.folder.new | r.folder.old | - | Where are the Aurelia project files stored?
temporal_update | researcher | r.lr.scope.new | r.lr.scope.old | - | From which year onwards do papers count for the literature review?
temporal_update | researcher | r.meet.new | r.meet.old | - | When is the weekly check-in with Anika?
temporal_update | support | s.kestrel.new | s.kestrel.old | - | Which plan is Kestrel Logistics on, and how many seats?
temporal_update | support | s.bw.contact.new | s.bw.contact.old | - | Who is our contact at Brightwell Dental?
temporal_update | support | s.sla.new | s.sla.old | - | What is the Enterprise first-response SLA?
temporal_update | support | s.esc.new | s.esc.old | - | Who do billing incidents escalate to?
temporal_update | support | s.status.new | s.status.old | - | Where is the status page hosted?
temporal_update | support | s.orchard.pay.new | s.orchard.pay.old | - | How does Orchard & Vine pay us?
distractor | assistant | a.bd.rui | a.bd.ines,a.bd.helena,a.bd.marta | - | When is my brother's birthday?
distractor | assistant | a.bd.helena | a.bd.ines,a.bd.rui,a.bd.marta | - | When does Leonor's mum celebrate her birthday?
distractor | assistant | a.vet | a.vet.ines,a.dentist.new | - | Which clinic does my dog go to?
distractor | assistant | a.gift.rui | a.gift.ines,a.gift.helena,a.gift.ines.ep | - | What would make a good present for my brother?
distractor | assistant | a.tomas.allergy | a.penicillin | - | What is Tomás allergic to?
distractor | assistant | a.tomas.job | a.job.new,a.job.old | - | Where will my partner be working after we relocate?
distractor | assistant | a.tp1352 | a.tp1947,a.tomas.flight | - | When does my return flight from London land?
distractor | coder | c.port.notif | c.port.billing,c.port.auth | - | Which port does notification-service use locally?
distractor | coder | c.db.inventory | c.db.billing,c.db.auth | - | Which database cluster holds the inventory data?
distractor | coder | c.limit.sendgrid | c.limit.stripe | - | What's the email provider's rate limit?
distractor | coder | c.kafka.orders | c.kafka.inv | - | Which Kafka topic does billing-service read from?
distractor | coder | c.py.others | c.py.new,c.py.old | - | Which Python version are auth-service and notification-service on?
distractor | coder | c.win.payments | c.win.storefront | - | When am I allowed to deploy payments-gateway?
distractor | researcher | r.sub.se | r.sub.no,r.sub.fi | - | What incentive do Swedish households get for heat pumps?
distractor | researcher | r.sub.no | r.sub.se,r.sub.fi | - | Can Norwegian households still get a subsidy for an air-to-air heat pump?
distractor | researcher | r.cop.field | r.cop.lab | - | What COP did the units reach in real-world cold conditions?
distractor | researcher | r.fi.ep | r.est.new,r.est.old | - | How many heat pumps were installed in Finland in 2024?
distractor | researcher | r.plant.cyc | r.plant.nk,r.plant.volt | - | What capacity does the recycling plant in Belgium have?
distractor | researcher | r.aur.deadline | r.deadline.new,r.deadline.old | - | When is the Aurelia brief due?
distractor | researcher | r.memagents | r.cikm | - | What's the deadline for the ICML workshop?
distractor | researcher | r.tomasz | r.ceo | - | Who is the main contact at Aurelia?
distractor | support | s.orchard.export | s.sup4471,s.kestrel.wa | - | What caused Orchard & Vine's CSV export failures?
distractor | support | s.orchard.owner | s.bruno.d1,s.bw.contact.new | - | Who handles billing questions at Orchard & Vine?
distractor | support | s.bw.discount | s.pinecrest.disc | - | What discount does Brightwell Dental get?
distractor | support | s.halvorsen.contact | s.bw.contact.new,s.orchard.owner,s.pinecrest.contact | - | Who is the IT contact at Halvorsen Marine?
distractor | support | s.dbprod2 | s.dbprod3 | - | Which database server is the EU primary?
distractor | support | s.rb071 | s.rb017 | - | Which runbook covers rotating SMTP credentials?
near_duplicate | assistant | a.cal.d1,a.cal.d2,a.cal.d3 | - | - | Who must never see Leonor's calendar?
near_duplicate | assistant | a.win.d1,a.win.d2,a.win.d3 | - | - | Which seat does Leonor want on planes?
near_duplicate | assistant | a.blood.d1,a.blood.d2 | - | - | What is Leonor's blood type?
near_duplicate | assistant | a.bills.d1,a.bills.d2 | - | - | How far in advance should bill reminders go out?
near_duplicate | assistant | a.grandma.d1,a.grandma.d2 | - | - | Who does Leonor need a nudge to call on Sundays?
near_duplicate | coder | c.prsize.d1,c.prsize.d2,c.prsize.d3 | - | - | How big can a pull request be?
near_duplicate | coder | c.frozen.d1,c.frozen.d2 | - | - | Which module must not be modified?
near_duplicate | coder | c.force.d1,c.force.d2 | - | - | Is it OK to force-push to a shared branch?
near_duplicate | researcher | r.hybrid.d1,r.hybrid.d2,r.hybrid.d3 | - | - | What does Anika think about hybrid retrieval?
near_duplicate | researcher | r.exec.d1,r.exec.d2 | - | - | How many sources does Anika require for each claim?
near_duplicate | researcher | r.onepage.d1,r.onepage.d2 | - | - | What does Tomasz want at the start of every deliverable?
near_duplicate | support | s.bruno.d1,s.bruno.d2,s.bruno.d3 | - | - | How should we contact Bruno at Kestrel?
near_duplicate | support | s.eta.d1,s.eta.d2 | - | - | Can I tell a customer when a feature will ship?
near_duplicate | support | s.sso.d1,s.sso.d2 | - | - | Who handles SSO tickets?
episodic | coder | c.b23.ep2,c.b23.ep3 | c.b224.ep1,c.notif.fail | - | What went wrong the last time we deployed billing?
episodic | coder | c.flaky.ep2,c.flaky.ep3 | c.flaky.ep1,c.tzrule | - | What was the root cause of the flaky refund test, and how did we fix it?
episodic | coder | c.oom.ep1,c.oom.ep2 | c.f.osclient | - | Why did the search indexer crash during the full reindex, and what did we change?
episodic | coder | c.notif.fail | c.pr2317 | - | What broke in the notification-service release, and how was it fixed?
episodic | coder | c.node.ep1,c.node.ep2 | c.pr2371 | - | What happened when we bumped webpack in the storefront?
episodic | coder | c.idem.ep | - | - | What did Priya and I agree on for idempotency keys?
episodic | assistant | a.move.ep1,a.move.ep2 | a.movers | - | What went wrong on moving day, and did we claim for it?
episodic | assistant | a.london.ep1 | a.london.hotel | - | What happened with the hotel for the London conference?
episodic | assistant | a.london.ep2,a.claim | a.tp1352 | - | How did the trip home from London go?
episodic | assistant | a.move.ep3 | - | - | How did the dog handle the relocation?
episodic | assistant | a.gift.ines.ep | a.gift.ines | - | What did we end up getting Inês for her birthday?
episodic | researcher | r.scrape.ep1,r.scrape.ep2 | - | - | How did the attempt to scrape Norwegian listings go?
episodic | researcher | r.kjell.ep1,r.kjell.ep2 | - | - | What did we learn from the installer interview in Bergen?
episodic | researcher | r.nv.done.ep,r.fi.ep | r.deadline.new | - | What did Ingrid ask for after the Nordvarme delivery, and did we send it?
episodic | researcher | r.lr.screen.ep | r.lr.draft.ep | - | How many papers did we keep after screening the abstracts?
episodic | researcher | r.lr.feedback | r.lr.draft.ep | - | What feedback did Anika give on the review draft?
episodic | support | s.inc231.ep1,s.inc231.ep2 | s.inc231.ep3 | - | What did customers experience during the February billing outage?
episodic | support | s.kestrel.wa,s.sup4471.close | s.orchard.export | - | What workaround did we give Kestrel for exports, and what finally fixed it?
episodic | support | s.pinecrest.ep | - | - | Why did the Pinecrest renewal get stuck?
episodic | support | s.sup4588 | - | - | What happened with Brightwell's December charge?
episodic | support | s.sup4620 | s.halvorsen | - | What went wrong with Halvorsen Marine's invoices in March?
episodic | support | s.mistake | - | - | What mix-up happened with a reply meant for Kestrel?
episodic | support | s.oncall.ep | - | - | How did the on-call weekend covering for Marco go?
episodic | - | c.b23.ep2,s.inc231.ep3 | c.b23.ep3,s.inc231.ep1 | - | What was the root cause of the February billing outage?
"""  # noqa: E501


# --------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class Memory:
    key: str
    agent: str
    session: str
    kind: str
    weight: str
    tags: tuple[str, ...]
    content: str


@dataclass(frozen=True)
class Query:
    category: str
    agent: str | None
    gold: tuple[str, ...]
    negatives: tuple[str, ...]
    term: str | None
    text: str


def _rows(table: str, fields: int) -> list[list[str]]:
    rows = []
    for raw in table.strip().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split(" | ", fields - 1)]
        if len(cells) != fields:
            sys.exit(f"malformed row ({len(cells)} cells, want {fields}): {line}")
        rows.append(cells)
    return rows


def _keys(cell: str) -> tuple[str, ...]:
    return () if cell == "-" else tuple(k.strip() for k in cell.split(","))


def parse_sessions() -> dict[str, tuple[datetime, str]]:
    sessions = {}
    for sid, day, start, topic in _rows(SESSIONS, 4):
        sessions[sid] = (datetime.fromisoformat(f"{day}T{start}:00"), topic)
    return sessions


def parse_memories() -> list[Memory]:
    out = []
    for session, key, kind, weight, tags, content in _rows(MEMORIES, 6):
        agent = session.rsplit("-s", 1)[0]
        out.append(Memory(key, agent, session, kind, weight, tuple(tags.split(",")), content))
    return out


def parse_queries() -> list[Query]:
    out = []
    for cat, agent, gold, neg, term, text in _rows(QUERIES, 6):
        out.append(
            Query(
                category=cat,
                agent=None if agent == "-" else agent,
                gold=_keys(gold),
                negatives=_keys(neg),
                term=None if term == "-" else term,
                text=text,
            )
        )
    return out


# --------------------------------------------------------------------------------------
# Lexical helpers (validation and the BM25 diagnostic only)

_STOPWORD_TEXT = """
a about above after again all also am an and any are as at be because been before being
both but by can could did do does doing don down during each either every few for from
further get gets got had has have having he her here hers him his how i if in into is it
its just me more most my no nor not now of off on once only or other our ours out over own
per same she should so some such than that the their them then there these they this those
through to too under until up us very was we were what when where which while who whom
whose why will with would you your s t d ll m re ve
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _stem(tok: str) -> str:
    if len(tok) > 4 and tok.endswith("ies"):
        return tok[:-3] + "y"
    if len(tok) > 5 and tok.endswith("ing"):
        return tok[:-3]
    if len(tok) > 4 and tok.endswith("ed"):
        return tok[:-2]
    if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
        return tok[:-1]
    return tok


def terms(text: str) -> list[str]:
    toks = re.findall(r"[a-z0-9]+", text.lower().replace("'s ", " "))
    return [_stem(t) for t in toks if t not in STOPWORDS]


class BM25:
    def __init__(self, docs: dict[str, list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.docs = docs
        self.k1, self.b = k1, b
        self.avgdl = sum(len(d) for d in docs.values()) / len(docs)
        df: Counter[str] = Counter()
        for d in docs.values():
            df.update(set(d))
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.tf = {k: Counter(d) for k, d in docs.items()}

    def rank(self, query: list[str], keys: list[str]) -> list[str]:
        def score(k: str) -> float:
            tf, dl, s = self.tf[k], len(self.docs[k]), 0.0
            for t in query:
                f = tf.get(t, 0)
                if f:
                    s += (
                        self.idf[t]
                        * f
                        * (self.k1 + 1)
                        / (f + self.k1 * (1 - self.b + self.b * dl / self.avgdl))
                    )
            return s

        return sorted(keys, key=lambda k: (-score(k), k))


# --------------------------------------------------------------------------------------
# Build


def build() -> tuple[list[dict], list[dict], list[dict], dict]:
    rng = random.Random(SEED)
    sessions = parse_sessions()
    memories = parse_memories()
    queries = parse_queries()

    # Times: a session's rows are spaced a few minutes apart from its start; importance
    # is drawn from the range of the row's hand-assigned weight.
    clock: dict[str, datetime] = {}
    when: dict[str, datetime] = {}
    importance: dict[str, float] = {}
    for m in memories:
        if m.session not in sessions:
            sys.exit(f"{m.key}: unknown session {m.session}")
        start = clock.get(m.session, sessions[m.session][0])
        when[m.key] = start
        clock[m.session] = start + timedelta(minutes=rng.randint(2, 17))
        lo, hi = WEIGHTS[m.weight]
        importance[m.key] = round(rng.uniform(lo, hi), 2)

    order = sorted(range(len(memories)), key=lambda i: (when[memories[i].key], i))
    ids = {memories[i].key: f"m{n:04d}" for n, i in enumerate(order, start=1)}
    by_key = {m.key: m for m in memories}

    mem_rows = []
    for i in order:
        m = memories[i]
        mem_rows.append(
            {
                "id": ids[m.key],
                "agent": m.agent,
                "session": m.session,
                "kind": m.kind,
                "content": m.content,
                "occurred_at": when[m.key].strftime("%Y-%m-%dT%H:%M:00Z"),
                "importance": importance[m.key],
                "tags": list(m.tags),
            }
        )

    shuffled = list(queries)
    rng.shuffle(shuffled)
    query_rows, negative_rows = [], []
    for n, q in enumerate(shuffled, start=1):
        qid = f"q{n:03d}"
        for k in q.gold + q.negatives:
            if k not in ids:
                sys.exit(f"query {q.text!r}: unknown memory key {k}")
        query_rows.append(
            {
                "id": qid,
                "query": q.text,
                "gold": sorted(ids[k] for k in q.gold),
                "agent": q.agent,
                "category": q.category,
            }
        )
        if q.negatives:
            old = q.gold[0].removesuffix(".new") + ".old" if q.category == "temporal_update" else ""
            negative_rows.append(
                {
                    "id": qid,
                    "category": q.category,
                    "superseded": sorted(ids[k] for k in q.negatives if k == old),
                    "look_alikes": sorted(ids[k] for k in q.negatives if k != old),
                }
            )

    ctx = {
        "memories": memories,
        "queries": shuffled,
        "by_key": by_key,
        "when": when,
        "importance": importance,
        "ids": ids,
        "sessions": sessions,
    }
    return mem_rows, query_rows, negative_rows, ctx


# --------------------------------------------------------------------------------------
# Validation


def validate(mem_rows: list[dict], query_rows: list[dict], ctx: dict) -> list[str]:
    errors: list[str] = []
    memories: list[Memory] = ctx["memories"]
    queries: list[Query] = ctx["queries"]
    by_key: dict[str, Memory] = ctx["by_key"]
    when: dict[str, datetime] = ctx["when"]

    def err(msg: str) -> None:
        errors.append(msg)

    # Memories.
    if len(by_key) != len(memories):
        dup = [k for k, c in Counter(m.key for m in memories).items() if c > 1]
        err(f"duplicate memory keys: {dup}")
    ids = [r["id"] for r in mem_rows]
    if len(set(ids)) != len(ids):
        err("duplicate memory ids")
    contents = Counter(m.content.lower() for m in memories)
    for text, c in contents.items():
        if c > 1:
            err(f"identical memory content x{c}: {text}")
    for m in memories:
        if m.agent not in AGENTS:
            err(f"{m.key}: unknown agent {m.agent}")
        if m.kind not in KINDS:
            err(f"{m.key}: bad kind {m.kind}")
        if m.weight not in WEIGHTS:
            err(f"{m.key}: bad weight {m.weight}")
        prefix = {"assistant": "a.", "coder": "c.", "researcher": "r.", "support": "s."}
        if not m.key.startswith(prefix.get(m.agent, "?")):
            err(f"{m.key}: key prefix does not match agent {m.agent}")
        words = len(m.content.split())
        if not 5 <= words <= 60:
            err(f"{m.key}: {words} words (want 5-60)")
        if "|" in m.content:
            err(f"{m.key}: content contains '|'")
    for r in mem_rows:
        if not 0.0 <= r["importance"] <= 1.0:
            err(f"{r['id']}: importance out of range")
    if len(memories) < MIN_MEMORIES:
        err(f"only {len(memories)} memories (want >= {MIN_MEMORIES})")

    # Queries.
    qids = [r["id"] for r in query_rows]
    if len(set(qids)) != len(qids):
        err("duplicate query ids")
    if len({q.text.lower() for q in queries}) != len(queries):
        err("duplicate query text")
    if len(queries) < MIN_QUERIES:
        err(f"only {len(queries)} queries (want >= {MIN_QUERIES})")

    id_set = set(ids)
    for r in query_rows:
        for g in r["gold"]:
            if g not in id_set:
                err(f"{r['id']}: gold {g} does not exist")

    # Informative terms: stems that are neither stopwords nor in > 8% of memories.
    df: Counter[str] = Counter()
    for m in memories:
        df.update(set(terms(m.content)))
    common = {t for t, f in df.items() if f > 0.08 * len(memories)}

    def informative(text: str) -> set[str]:
        return set(terms(text)) - common

    temporal_pairs = 0
    for q in queries:
        tag = f"[{q.category}] {q.text!r}"
        if q.category not in CATEGORIES:
            err(f"{tag}: unknown category")
        if not q.gold:
            err(f"{tag}: no gold")
        if len(set(q.gold)) != len(q.gold):
            err(f"{tag}: repeated gold")
        if set(q.gold) & set(q.negatives):
            err(f"{tag}: a memory is both gold and negative")
        if q.agent is not None:
            if q.agent not in AGENTS:
                err(f"{tag}: unknown agent {q.agent}")
            for k in q.gold + q.negatives:
                if k in by_key and by_key[k].agent != q.agent:
                    err(f"{tag}: {k} belongs to {by_key[k].agent}, not {q.agent}")
        if any(k not in by_key for k in q.gold + q.negatives):
            continue
        gold = [by_key[k] for k in q.gold]
        scope = [m for m in memories if q.agent is None or m.agent == q.agent]

        if q.term is not None and q.category != "keyword":
            err(f"{tag}: only keyword queries carry an exact term")
        if q.category == "paraphrase":
            # Few shared informative words with the gold: this tests meaning, not overlap.
            for g in gold:
                shared = informative(q.text) & informative(g.content)
                if len(shared) > 1:
                    err(f"{tag}: shares {sorted(shared)} with {g.key}")
        elif q.category == "keyword":
            if not q.term:
                err(f"{tag}: keyword query without an exact term")
                continue
            if q.term.lower() not in q.text.lower():
                err(f"{tag}: term {q.term!r} not in the query")
            having = {m.key for m in scope if q.term.lower() in m.content.lower()}
            if not having & set(q.gold):
                err(f"{tag}: term {q.term!r} is in no gold memory")
            if having - set(q.gold):
                err(f"{tag}: term {q.term!r} also in non-gold {sorted(having - set(q.gold))}")
        elif q.category == "temporal_update":
            if len(q.gold) != 1 or not q.negatives:
                err(f"{tag}: needs one gold and at least one superseded memory")
                continue
            new = gold[0]
            old = [by_key[k] for k in q.negatives]
            superseded = [o for o in old if o.key == new.key.removesuffix(".new") + ".old"]
            if not superseded:
                err(f"{tag}: no superseded memory of the same fact")
            for o in superseded:
                if not when[new.key] > when[o.key]:
                    err(f"{tag}: gold {new.key} is not newer than {o.key}")
                if o.agent != new.agent:
                    err(f"{tag}: superseded {o.key} belongs to another agent")
            temporal_pairs += bool(superseded)
        elif q.category == "distractor":
            if len(q.gold) != 1 or not q.negatives:
                err(f"{tag}: needs one gold and at least one look-alike")
        elif q.category == "near_duplicate":
            if not 2 <= len(gold) <= 3:
                err(f"{tag}: near-duplicate groups have 2-3 copies")
            if len({g.session for g in gold}) != len(gold):
                err(f"{tag}: copies must come from different sessions")
            if len({g.agent for g in gold}) != 1:
                err(f"{tag}: copies must belong to one agent")
        elif q.category == "episodic" and not any(g.kind == "episodic" for g in gold):
            err(f"{tag}: no episodic memory among the gold")

    if temporal_pairs < MIN_TEMPORAL_PAIRS:
        err(f"only {temporal_pairs} temporal pairs (want >= {MIN_TEMPORAL_PAIRS})")

    # Near-duplicate copies must be gold only together.
    dup_groups = [set(q.gold) for q in queries if q.category == "near_duplicate"]
    for q in queries:
        for group in dup_groups:
            if set(q.gold) & group and not group <= set(q.gold):
                err(f"[{q.category}] {q.text!r}: gold splits a near-duplicate group")

    used = {k for q in queries for k in q.gold}
    if len(memories) - len(used) < MIN_UNUSED_MEMORIES:
        err(f"only {len(memories) - len(used)} memories are gold for nothing")
    return errors


# --------------------------------------------------------------------------------------
# Summary


def summarize(mem_rows: list[dict], query_rows: list[dict], ctx: dict) -> dict:
    memories: list[Memory] = ctx["memories"]
    queries: list[Query] = ctx["queries"]
    by_key, when, imp = ctx["by_key"], ctx["when"], ctx["importance"]
    used = {k for q in queries for k in q.gold}

    bm25 = BM25({m.key: terms(m.content) for m in memories})
    diag: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for q in queries:
        keys = [m.key for m in memories if q.agent is None or m.agent == q.agent]
        ranked = bm25.rank(terms(q.text), keys)
        d = diag[q.category]
        d[0] += 1
        d[1] += ranked[0] in q.gold
        d[2] += len(set(ranked[:5]) & set(q.gold)) / len(q.gold)

    temporal = [q for q in queries if q.category == "temporal_update"]
    stale_wins = 0
    for q in temporal:
        keys = [q.gold[0], *q.negatives]
        if bm25.rank(terms(q.text), keys)[0] != q.gold[0]:
            stale_wins += 1
    look_alike = [q for q in queries if q.category == "distractor"]
    older_gold = sum(1 for q in look_alike if any(when[q.gold[0]] < when[n] for n in q.negatives))
    gold_imp = [imp[k] for k in used]
    rest_imp = [imp[m.key] for m in memories if m.key not in used]
    dates = sorted(when.values())
    return {
        "memories": len(mem_rows),
        "queries": len(query_rows),
        "unused": len(memories) - len(used),
        "by_agent": Counter(m.agent for m in memories),
        "sessions_by_agent": Counter(s.rsplit("-s", 1)[0] for s in ctx["sessions"]),
        "by_kind": Counter(m.kind for m in memories),
        "by_category": Counter(q.category for q in queries),
        "queries_by_agent": Counter(q.agent or "(any agent)" for q in queries),
        "temporal_pairs": len(temporal),
        "bm25": {c: (int(d[0]), d[1] / d[0], d[2] / d[0]) for c, d in diag.items()},
        "stale_wins": stale_wins,
        "distractor_older_gold": older_gold,
        "distractors": len(look_alike),
        "gold_importance": sum(gold_imp) / len(gold_imp),
        "other_importance": sum(rest_imp) / len(rest_imp),
        "first": dates[0].date().isoformat(),
        "last": dates[-1].date().isoformat(),
        "words": [len(m.content.split()) for m in memories],
        "by_key": by_key,
    }


def _table(title: str, counts: Counter, order: tuple[str, ...] | None = None) -> list[str]:
    keys = list(order) if order else sorted(counts)
    total = sum(counts.values())
    lines = [f"| {title} | count | share |", "|---|---:|---:|"]
    for k in keys:
        lines.append(f"| {k} | {counts[k]} | {counts[k] / total:.0%} |")
    lines.append(f"| **total** | **{total}** | |")
    return lines


def print_summary(s: dict) -> None:
    def block(title: str, counts: Counter, order: tuple[str, ...] | None = None) -> None:
        keys = list(order) if order else sorted(counts)
        total = sum(counts.values())
        print(f"\n{title:<18}{'count':>7}{'share':>8}")
        for k in keys:
            print(f"  {k:<16}{counts[k]:>7}{counts[k] / total:>8.0%}")
        print(f"  {'total':<16}{total:>7}")

    print(f"memories: {s['memories']}  queries: {s['queries']}  ({s['first']} .. {s['last']})")
    block("queries/category", s["by_category"], CATEGORIES)
    block("queries/agent", s["queries_by_agent"])
    block("memories/kind", s["by_kind"], KINDS)
    block("memories/agent", s["by_agent"], tuple(AGENTS))
    words = s["words"]
    print(f"\nmemory length: {min(words)}-{max(words)} words, mean {sum(words) / len(words):.1f}")
    print(f"memories that are gold for nothing: {s['unused']}")
    print(f"temporal_update pairs: {s['temporal_pairs']}")
    print(f"mean importance: gold {s['gold_importance']:.2f}, others {s['other_importance']:.2f}")
    print(
        f"distractor queries whose gold is older than a look-alike: "
        f"{s['distractor_older_gold']}/{s['distractors']}"
    )
    print(
        f"temporal queries where BM25 ranks the superseded memory above the gold: "
        f"{s['stale_wins']}/{s['temporal_pairs']}"
    )
    print("\nBM25-only diagnostic (scoped to the query's agent):")
    print(f"  {'category':<16}{'n':>4}{'hit@1':>8}{'recall@5':>10}")
    for c in CATEGORIES:
        n, h1, r5 = s["bm25"][c]
        print(f"  {c:<16}{n:>4}{h1:>8.2f}{r5:>10.2f}")


def readme(s: dict) -> str:
    bm = s["bm25"]
    lines = [
        "# aether-memory retrieval evaluation set",
        "",
        "Hand-written long-term memories of four AI agents and the questions later asked of",
        "them, with gold answers. It is meant to tune and check the ranking of hybrid search",
        "(BM25 + vectors + recency + importance). Generated by `eval/make_dataset.py`;",
        "do not edit these files by hand.",
        "",
        "Regenerate (deterministic, byte-identical on every run; standard library only):",
        "",
        "```",
        "python eval/make_dataset.py",
        "```",
        "",
        "## Contents",
        "",
        f"- `memories.jsonl`: {s['memories']} memories, {s['first']} to {s['last']},",
        f"  {s['unused']} of which are gold for no query (pure distractors).",
        f"- `queries.jsonl`: {s['queries']} queries with gold memory ids.",
        "- `hard_negatives.jsonl`: optional extra for error analysis, one line per query that",
        '  has them: `{"id": "q001", "category": ..., "superseded": [...],',
        '  "look_alikes": [...]}`. `superseded` is the outdated memory of a temporal_update',
        "  query; `look_alikes` are the memories most easily confused with the gold",
        "  (near-miss ids, other people or services). None of them is gold.",
        "",
        "Agents:",
        "",
    ]
    for agent, desc in AGENTS.items():
        lines.append(
            f"- `{agent}`: {desc}; {s['by_agent'][agent]} memories in "
            f"{s['sessions_by_agent'][agent]} sessions."
        )
    lines += [
        "",
        "## Schema",
        "",
        "`memories.jsonl`, one object per line:",
        "",
        "```json",
        '{"id": "m0001", "agent": "support", "session": "support-s01", "kind": "fact",',
        ' "content": "...", "occurred_at": "2025-10-02T08:30:00Z", "importance": 0.81,',
        ' "tags": ["kestrel", "plan"]}',
        "```",
        "",
        "`kind` is `fact`, `episodic`, `semantic` or `procedural`; `importance` is in [0, 1];",
        "ids are assigned in `occurred_at` order.",
        "",
        "`queries.jsonl`, one object per line:",
        "",
        "```json",
        '{"id": "q001", "query": "...", "gold": ["m0123"], "agent": "coder",',
        ' "category": "keyword"}',
        "```",
        "",
        "`agent` is null for a query over every agent's memories; otherwise the search is",
        "scoped to that agent and all gold memories belong to it. Every gold memory is a",
        "correct answer; a ranker should place all of them first.",
        "",
        "## Categories",
        "",
        "- `paraphrase`: the query shares at most one informative word with each gold memory",
        "  (checked by the generator); tests the vector side.",
        "- `keyword`: names an exact id or rare term (ticket, flight, migration, env var) that",
        "  is in a gold memory and in no other memory in scope; look-alike ids (SUP-4417 vs",
        "  SUP-4471, migration 0041/0043) sit nearby; tests BM25.",
        "- `temporal_update`: a fact changed over time; both the old and the new memory are",
        "  in the set and the gold is only the newer one (strictly later `occurred_at`).",
        "- `distractor`: similar memories about another person, service, country or customer;",
        "  only one is right.",
        "- `near_duplicate`: 2-3 reworded copies of one fact from different sessions; gold is",
        "  every copy.",
        "- `episodic`: what happened in a task or session (some span sessions or agents).",
        "",
        *_table("category", s["by_category"], CATEGORIES),
        "",
        *_table("memory kind", s["by_kind"], KINDS),
        "",
        f"Temporal pairs: {s['temporal_pairs']}. Distractor queries whose gold is older than",
        f"one of its look-alikes: {s['distractor_older_gold']} of {s['distractors']}, so",
        "recency alone cannot solve them.",
        "",
        "BM25-only baseline from the generator (for orientation, scoped to the query's agent):",
        "",
        "| category | hit@1 | recall@5 |",
        "|---|---:|---:|",
    ]
    for c in CATEGORIES:
        _, h1, r5 = bm[c]
        lines.append(f"| {c} | {h1:.2f} | {r5:.2f} |")
    lines.append("")
    return "\n".join(lines)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8", newline="\n")


def main() -> int:
    mem_rows, query_rows, negative_rows, ctx = build()
    errors = validate(mem_rows, query_rows, ctx)
    if errors:
        print(f"{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 1
    summary = summarize(mem_rows, query_rows, ctx)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    write_jsonl(OUT_DIR / "memories.jsonl", mem_rows)
    write_jsonl(OUT_DIR / "queries.jsonl", query_rows)
    write_jsonl(OUT_DIR / "hard_negatives.jsonl", negative_rows)
    (OUT_DIR / "README.md").write_text(readme(summary), encoding="utf-8", newline="\n")
    print_summary(summary)
    print(f"\nwrote {OUT_DIR}/{{memories,queries,hard_negatives}}.jsonl and README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
