// The engine on llama.cpp's random-weight tiny Gemma 4 fixture, loaded once and shared by the runtime tests.
#pragma once

#include <memory>

#include "runtime/gemma4_engine.h"

namespace hark::runtime {

std::shared_ptr<Gemma4Engine> tiny_engine();

}  // namespace hark::runtime
