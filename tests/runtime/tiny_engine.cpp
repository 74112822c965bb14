#include "tiny_engine.h"

#include "testutil/testutil.h"

namespace hark::runtime {

std::shared_ptr<Gemma4Engine> tiny_engine() {
  static const std::shared_ptr<Gemma4Engine> e = [] {
    EngineOptions o;
    o.model_path = test::fixture("gemma4-tiny/model.gguf");
    o.mmproj_path = test::fixture("gemma4-tiny/mmproj.gguf");
    o.threads = 2;
    return Gemma4Engine::load(o);
  }();
  return e;
}

}  // namespace hark::runtime
