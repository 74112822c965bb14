#include "text/language.h"

#include <cctype>
#include <utility>

#include "core/error.h"

namespace hark::text {
namespace {

// ISO-639-1 codes of the languages Whisper-style clients commonly send.
constexpr std::pair<std::string_view, std::string_view> kLanguages[] = {
    {"af", "Afrikaans"},
    {"am", "Amharic"},
    {"ar", "Arabic"},
    {"as", "Assamese"},
    {"az", "Azerbaijani"},
    {"ba", "Bashkir"},
    {"be", "Belarusian"},
    {"bg", "Bulgarian"},
    {"bn", "Bengali"},
    {"bo", "Tibetan"},
    {"br", "Breton"},
    {"bs", "Bosnian"},
    {"ca", "Catalan"},
    {"cs", "Czech"},
    {"cy", "Welsh"},
    {"da", "Danish"},
    {"de", "German"},
    {"el", "Greek"},
    {"en", "English"},
    {"es", "Spanish"},
    {"et", "Estonian"},
    {"eu", "Basque"},
    {"fa", "Persian"},
    {"fi", "Finnish"},
    {"fo", "Faroese"},
    {"fr", "French"},
    {"gl", "Galician"},
    {"gu", "Gujarati"},
    {"ha", "Hausa"},
    {"haw", "Hawaiian"},
    {"he", "Hebrew"},
    {"hi", "Hindi"},
    {"hr", "Croatian"},
    {"ht", "Haitian Creole"},
    {"hu", "Hungarian"},
    {"hy", "Armenian"},
    {"id", "Indonesian"},
    {"is", "Icelandic"},
    {"it", "Italian"},
    {"ja", "Japanese"},
    {"jw", "Javanese"},
    {"jv", "Javanese"},
    {"ka", "Georgian"},
    {"kk", "Kazakh"},
    {"km", "Khmer"},
    {"kn", "Kannada"},
    {"ko", "Korean"},
    {"la", "Latin"},
    {"lb", "Luxembourgish"},
    {"ln", "Lingala"},
    {"lo", "Lao"},
    {"lt", "Lithuanian"},
    {"lv", "Latvian"},
    {"mg", "Malagasy"},
    {"mi", "Maori"},
    {"mk", "Macedonian"},
    {"ml", "Malayalam"},
    {"mn", "Mongolian"},
    {"mr", "Marathi"},
    {"ms", "Malay"},
    {"mt", "Maltese"},
    {"my", "Burmese"},
    {"ne", "Nepali"},
    {"nl", "Dutch"},
    {"nn", "Norwegian Nynorsk"},
    {"no", "Norwegian"},
    {"nb", "Norwegian"},
    {"oc", "Occitan"},
    {"pa", "Punjabi"},
    {"pl", "Polish"},
    {"ps", "Pashto"},
    {"pt", "Portuguese"},
    {"ro", "Romanian"},
    {"ru", "Russian"},
    {"sa", "Sanskrit"},
    {"sd", "Sindhi"},
    {"si", "Sinhala"},
    {"sk", "Slovak"},
    {"sl", "Slovenian"},
    {"sn", "Shona"},
    {"so", "Somali"},
    {"sq", "Albanian"},
    {"sr", "Serbian"},
    {"su", "Sundanese"},
    {"sv", "Swedish"},
    {"sw", "Swahili"},
    {"ta", "Tamil"},
    {"te", "Telugu"},
    {"tg", "Tajik"},
    {"th", "Thai"},
    {"tk", "Turkmen"},
    {"tl", "Tagalog"},
    {"tr", "Turkish"},
    {"tt", "Tatar"},
    {"uk", "Ukrainian"},
    {"ur", "Urdu"},
    {"uz", "Uzbek"},
    {"vi", "Vietnamese"},
    {"yi", "Yiddish"},
    {"yo", "Yoruba"},
    {"yue", "Cantonese"},
    {"zh", "Chinese"},
    {"zu", "Zulu"},
};

bool is_name_char(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == ' ' || c == '-' || c == '(' || c == ')';
}

}  // namespace

std::string language_name(std::string_view code_or_name) {
  if (code_or_name.empty()) return {};
  std::string lower;
  for (char c : code_or_name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // "en-US" and "pt_BR" name the language by their first part.
  const std::string base = lower.substr(0, lower.find_first_of("-_"));
  for (const auto& [code, name] : kLanguages)
    if (base == code) return std::string(name);
  bool ok = code_or_name.size() <= 40 && std::isalpha(static_cast<unsigned char>(code_or_name[0]));
  for (char c : code_or_name) ok = ok && is_name_char(c);
  if (!ok)
    throw Error(Errc::kInvalidArgument, "language '" + std::string(code_or_name.substr(0, 60)) +
                                            "' is neither an ISO-639-1 code (e.g. 'en') nor a language name");
  return std::string(code_or_name);
}

}  // namespace hark::text
