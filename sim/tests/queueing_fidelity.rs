//! The engine against queueing theory: a single station with Poisson arrivals and exponential
//! service reproduces the M/M/1 and M/M/c (Erlang C) mean waiting time within 2%, and Little's
//! law holds, on long runs. Same event queue, distributions and station as the mesh model.

use rand::SeedableRng;
use sim::engine::station::Admission;
use sim::engine::{Distribution, EventQueue, Scheduling, SimRng, SimTime, Station};

enum Event {
    Arrival,
    Departure,
}

struct Outcome {
    mean_wait_ns: f64,
    mean_sojourn_ns: f64,
    /// Time-average number of jobs in the system (queue + service).
    mean_in_system: f64,
    arrival_rate_per_ns: f64,
}

fn simulate(
    arrival_rate_per_s: f64,
    service_mean_ns: f64,
    workers: u32,
    jobs: usize,
    seed: u64,
) -> Outcome {
    let mut rng = SimRng::seed_from_u64(seed);
    let interarrival = Distribution::Exponential {
        mean: 1e9 / arrival_rate_per_s,
    };
    let service = Distribution::Exponential {
        mean: service_mean_ns,
    };
    let mut station = Station::new(workers, Scheduling::Fifo, u32::MAX);
    let mut queue: EventQueue<(Event, u32)> = EventQueue::new();
    let mut arrived_at: Vec<u64> = Vec::with_capacity(jobs);
    // Jobs still being served, by worker slot, are tracked through their departure events.
    let warmup = jobs / 20;
    let (mut wait_sum, mut sojourn_sum, mut measured) = (0.0, 0.0, 0u64);
    let (mut in_system, mut area, mut last_change, mut start_ns) = (0u64, 0.0, 0u64, 0u64);
    queue.schedule(SimTime(0), (Event::Arrival, 0));
    while let Some((now, (event, job))) = queue.pop() {
        let t = now.0;
        if arrived_at.len() > warmup {
            area += in_system as f64 * (t - last_change) as f64;
        } else {
            start_ns = t;
        }
        last_change = t;
        match event {
            Event::Arrival => {
                let id = arrived_at.len() as u32;
                arrived_at.push(t);
                in_system += 1;
                if station.arrive(id, 0) == Admission::Start {
                    if id as usize > warmup {
                        measured += 1;
                    }
                    let s = service.sample(&mut rng);
                    queue.schedule(now.after(s), (Event::Departure, id));
                }
                if arrived_at.len() < jobs {
                    queue.schedule(
                        now.after(interarrival.sample(&mut rng)),
                        (Event::Arrival, 0),
                    );
                }
            }
            Event::Departure => {
                in_system -= 1;
                if job as usize > warmup {
                    sojourn_sum += (t - arrived_at[job as usize]) as f64;
                }
                if let Some(next) = station.finish() {
                    if next as usize > warmup {
                        wait_sum += (t - arrived_at[next as usize]) as f64;
                        measured += 1;
                    }
                    let s = service.sample(&mut rng);
                    queue.schedule(now.after(s), (Event::Departure, next));
                }
            }
        }
    }
    let n = (jobs - warmup - 1) as f64;
    let elapsed = (last_change - start_ns) as f64;
    assert_eq!(measured as f64, n);
    Outcome {
        mean_wait_ns: wait_sum / n,
        mean_sojourn_ns: sojourn_sum / n,
        mean_in_system: area / elapsed,
        arrival_rate_per_ns: n / elapsed,
    }
}

/// Erlang C: probability an arrival waits in an M/M/c queue with offered load a = λ/μ.
fn erlang_c(c: u32, a: f64) -> f64 {
    let rho = a / c as f64;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..c {
        term *= a / k as f64;
        sum += term;
    }
    let last = term * a / c as f64 / (1.0 - rho);
    last / (sum + last)
}

fn mean_wait_theory(arrival_rate_per_s: f64, service_mean_ns: f64, c: u32) -> f64 {
    let mu = 1e9 / service_mean_ns;
    let a = arrival_rate_per_s / mu;
    erlang_c(c, a) / (c as f64 * mu - arrival_rate_per_s) * 1e9
}

fn assert_close(measured: f64, expected: f64, tolerance: f64, what: &str) {
    let error = (measured - expected).abs() / expected;
    assert!(
        error < tolerance,
        "{what}: measured {measured:.1}, theory {expected:.1}, error {:.2}%",
        error * 100.0
    );
}

#[test]
fn mm1_mean_wait_matches_theory_within_2_percent() {
    // λ = 8000/s, service mean 100 µs: ρ = 0.8, Wq = ρ/(μ − λ) = 400 µs.
    let outcome = simulate(8000.0, 100_000.0, 1, 4_000_000, 11);
    let theory = mean_wait_theory(8000.0, 100_000.0, 1);
    assert!((theory - 400_000.0).abs() < 1.0);
    assert_close(outcome.mean_wait_ns, theory, 0.02, "M/M/1 Wq");
}

#[test]
fn mmc_mean_wait_matches_erlang_c_within_2_percent() {
    // Four workers at ρ = 0.85 (a shared proxy with four worker threads).
    let outcome = simulate(34_000.0, 100_000.0, 4, 4_000_000, 12);
    let theory = mean_wait_theory(34_000.0, 100_000.0, 4);
    assert_close(outcome.mean_wait_ns, theory, 0.02, "M/M/4 Wq");
}

#[test]
fn littles_law_holds() {
    let outcome = simulate(15_000.0, 100_000.0, 2, 2_000_000, 13);
    let l_from_w = outcome.arrival_rate_per_ns * outcome.mean_sojourn_ns;
    assert_close(outcome.mean_in_system, l_from_w, 0.02, "L = λW");
}
