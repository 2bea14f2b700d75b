#include "actors/leadership.hpp"

namespace ivfstream {

actors::retrain_policy leadership::follower_policy(actors::retrain_policy p, bool keep_reservoir) {
  p.enabled = p.enabled || keep_reservoir;
  p.every_inserts = 0;
  p.every_ms = 0;
  p.drift_threshold = 0;
  p.rebalance = false;
  return p;
}

result<std::unique_ptr<leadership>> leadership::start(engine& e, peer_service& peers, codebook_sync& books,
                                                      leadership_options options) {
  if (options.grace.count() < 1 || options.interval.count() < 1)
    return fail(errc::invalid_argument, "leadership: grace=" + std::to_string(options.grace.count()) + "ms interval=" +
                                            std::to_string(options.interval.count()) + "ms: both must be >= 1 ms");
  IVF_TRY(options.retrain.validate());
  std::unique_ptr<leadership> l(new leadership());
  l->engine_ = &e;
  l->peers_ = &peers;
  l->books_ = &books;
  l->options_ = options;
  books.set_leader(false);
  IVF_TRY(e.set_training(k_never, follower_policy(options.retrain, options.keep_reservoir)));
  l->thread_ = std::thread([p = l.get()] { p->run(); });
  return l;
}

leadership::~leadership() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string leadership::last_error() const {
  std::lock_guard<std::mutex> lock(error_mutex_);
  return last_error_;
}

void leadership::note(const error& e) {
  std::lock_guard<std::mutex> lock(error_mutex_);
  last_error_ = e.to_string();
}

void leadership::run() {
  while (!stop_) {
    step();
    std::this_thread::sleep_for(options_.interval);
  }
}

void leadership::step() {
  auto first = peers_->trains_now(options_.grace);
  if (!first) return note(first.error());
  if (*first && !leads_) {
    // Take over once caught up with the topic: the next version trained here is then the newest.
    if (!books_->caught_up()) return;
    if (auto st = engine_->set_training(options_.train_after, options_.retrain); !st) return note(st.error());
    books_->set_leader(true);
    leads_ = true;
    stepping_down_ = false;
    ++changes_;
    return;
  }
  if (*first && leads_ && stepping_down_) {  // first again before the hand-back finished
    if (auto st = engine_->set_training(options_.train_after, options_.retrain); !st) return note(st.error());
    stepping_down_ = false;
    return;
  }
  if (!*first && leads_) {
    if (!stepping_down_) {
      if (auto st = engine_->set_training(k_never, follower_policy(options_.retrain, options_.keep_reservoir)); !st)
        return note(st.error());
      stepping_down_ = true;
    }
    // Keep publishing until a training or swap that was running has finished and its version is out.
    auto s = engine_->stats();
    if (!s) return note(s.error());
    if (s->retrain_phase != "idle" || books_->topic_version() < s->codebook_version) return;
    books_->set_leader(false);
    leads_ = false;
    stepping_down_ = false;
    ++changes_;
  }
}

}  // namespace ivfstream
