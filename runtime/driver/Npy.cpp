//===- Npy.cpp - reading and writing numpy .npy files ---------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "Npy.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cassert>
#include <cmath>

using namespace autopar;
using llvm::StringRef;

namespace {
/// What the driver knows about each dtype, indexed by DType.
struct DTypeInfo {
  size_t size;
  StringRef name;
  StringRef descr;
};
constexpr DTypeInfo kDTypes[] = {
    {4, "float32", "<f4"}, {8, "float64", "<f8"}, {8, "int64", "<i8"},
    {4, "int32", "<i4"},   {1, "bool", "|b1"},    {2, "float16", "<f2"},
};
const DTypeInfo &info(DType dtype) { return kDTypes[size_t(dtype)]; }
} // namespace

size_t autopar::dtypeSize(DType dtype) { return info(dtype).size; }
StringRef autopar::dtypeName(DType dtype) { return info(dtype).name; }
StringRef autopar::dtypeDescr(DType dtype) { return info(dtype).descr; }

int64_t NpyArray::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string NpyArray::shapeString() const {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1)
    s += ",";
  return s + ")";
}

std::optional<int64_t>
autopar::checkedNumElements(llvm::ArrayRef<int64_t> shape, size_t elementSize) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return std::nullopt;
    if (llvm::MulOverflow(n, d, n))
      return std::nullopt;
  }
  int64_t bytes;
  if (llvm::MulOverflow(n, int64_t(elementSize), bytes))
    return std::nullopt;
  return n;
}

static llvm::Error npyError(StringRef name, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 name + ": " + message);
}

/// Finds `'key':` in the header dict and returns the text after the colon.
static std::optional<StringRef> findKey(StringRef header, StringRef key) {
  for (char quote : {'\'', '"'}) {
    std::string pattern = std::string(1, quote) + key.str() + quote;
    size_t pos = header.find(pattern);
    if (pos == StringRef::npos)
      continue;
    StringRef rest = header.drop_front(pos + pattern.size()).ltrim();
    if (!rest.consume_front(":"))
      return std::nullopt;
    return rest.ltrim();
  }
  return std::nullopt;
}

llvm::Expected<NpyArray> autopar::parseNpy(StringRef bytes, StringRef name) {
  if (!bytes.starts_with("\x93NUMPY"))
    return npyError(name, "not a .npy file (bad magic string)");
  if (bytes.size() < 10)
    return npyError(name, "truncated .npy header");
  uint8_t major = uint8_t(bytes[6]);
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return npyError(name, "truncated .npy header");
    headerLen = 0;
    for (int i = 3; i >= 0; --i)
      headerLen = (headerLen << 8) | uint8_t(bytes[8 + i]);
    headerStart = 12;
  } else {
    return npyError(name, "unsupported .npy format version " +
                              llvm::Twine(unsigned(major)));
  }
  if (headerLen > bytes.size() - headerStart)
    return npyError(name, "truncated .npy header");
  StringRef header = bytes.substr(headerStart, headerLen);
  StringRef payload = bytes.drop_front(headerStart + headerLen);

  NpyArray array;
  // descr
  std::optional<StringRef> descr = findKey(header, "descr");
  if (!descr || descr->empty() ||
      (descr->front() != '\'' && descr->front() != '"'))
    return npyError(name, "header has no 'descr'");
  char quote = descr->front();
  StringRef d = descr->drop_front();
  d = d.take_until([&](char c) { return c == quote; });
  const DTypeInfo *found =
      llvm::find_if(kDTypes, [&](const DTypeInfo &i) { return i.descr == d; });
  if (found != std::end(kDTypes))
    array.dtype = DType(found - std::begin(kDTypes));
  else
    return npyError(name, "unsupported dtype '" + d +
                              "' (supported: float32, float64, float16, int64, "
                              "int32, bool, little-endian)");
  // fortran_order
  std::optional<StringRef> fortran = findKey(header, "fortran_order");
  if (!fortran)
    return npyError(name, "header has no 'fortran_order'");
  if (fortran->starts_with("True"))
    return npyError(name, "Fortran-ordered arrays are not supported; save "
                          "with numpy.ascontiguousarray");
  if (!fortran->starts_with("False"))
    return npyError(name, "malformed 'fortran_order'");
  // shape
  std::optional<StringRef> shapeText = findKey(header, "shape");
  if (!shapeText || !shapeText->starts_with("("))
    return npyError(name, "header has no 'shape' tuple");
  StringRef tuple = shapeText->drop_front();
  size_t close = tuple.find(')');
  if (close == StringRef::npos)
    return npyError(name, "malformed 'shape'");
  tuple = tuple.take_front(close);
  llvm::SmallVector<StringRef> parts;
  tuple.split(parts, ',');
  for (StringRef part : parts) {
    part = part.trim();
    if (part.empty())
      continue;
    if (part.ends_with("L"))
      part = part.drop_back();
    int64_t dim;
    if (part.getAsInteger(10, dim) || dim < 0)
      return npyError(name, "malformed dimension '" + part + "' in 'shape'");
    array.shape.push_back(dim);
  }
  size_t elementSize = dtypeSize(array.dtype);
  std::optional<int64_t> count = checkedNumElements(array.shape, elementSize);
  if (!count)
    return npyError(name, "shape " + array.shapeString() + " is too large");
  uint64_t expected = uint64_t(*count) * elementSize;
  if (payload.size() < expected)
    return npyError(name, "truncated data: shape " + array.shapeString() +
                              " of " + dtypeName(array.dtype) + " needs " +
                              llvm::Twine(expected) + " bytes, file has " +
                              llvm::Twine(payload.size()));
  if (payload.size() > expected)
    return npyError(name, "file has " + llvm::Twine(payload.size() - expected) +
                              " bytes after the data");
  array.data.assign(payload.begin(), payload.end());
  if (array.dtype == DType::Bool)
    for (char &c : array.data)
      c = c != 0;
  return array;
}

llvm::Expected<NpyArray> autopar::readNpy(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return npyError(path, buffer.getError().message());
  return parseNpy((*buffer)->getBuffer(), path);
}

std::string autopar::serializeNpy(const NpyArray &array) {
  std::string dict =
      "{'descr': '" + dtypeDescr(array.dtype).str() +
      "', 'fortran_order': False, 'shape': " + array.shapeString() + ", }";
  // Pad so that magic + length field + header + '\n' is a multiple of 64.
  bool v2 = dict.size() + 1 + 10 > 65535;
  size_t prefix = v2 ? 12 : 10;
  size_t total = prefix + dict.size() + 1;
  size_t padded = llvm::alignTo(total, 64);
  dict.append(padded - total, ' ');
  dict.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(v2 ? 2 : 1);
  out.push_back(0);
  size_t len = dict.size();
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i)
    out.push_back(char((len >> (8 * i)) & 0xff));
  out += dict;
  out.append(array.data.begin(), array.data.end());
  return out;
}

llvm::Error autopar::writeNpy(StringRef path, const NpyArray &array) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return npyError(path, ec.message());
  os << serializeNpy(array);
  os.close();
  if (os.has_error())
    return npyError(path, os.error().message());
  return llvm::Error::success();
}

std::optional<int64_t> autopar::firstNonFinite(const NpyArray &array) {
  auto scan = [&](const auto *data) -> std::optional<int64_t> {
    for (int64_t i = 0, e = array.numElements(); i < e; ++i)
      if (!std::isfinite(double(data[i])))
        return i;
    return std::nullopt;
  };
  if (array.dtype == DType::F32)
    return scan(reinterpret_cast<const float *>(array.data.data()));
  if (array.dtype == DType::F64)
    return scan(reinterpret_cast<const double *>(array.data.data()));
  return std::nullopt;
}

/// Bytes per step along `dim` (the product of the later dimensions and the
/// element size) and the number of such runs before it.
static std::pair<size_t, int64_t> runsAlong(const NpyArray &a, int64_t dim) {
  size_t inner = dtypeSize(a.dtype);
  for (size_t d = size_t(dim) + 1; d < a.shape.size(); ++d)
    inner *= size_t(a.shape[d]);
  int64_t outer = 1;
  for (int64_t d = 0; d < dim; ++d)
    outer *= a.shape[size_t(d)];
  return {inner, outer};
}

/// `array` with dimension `dim` seen as [groups, size / groups].
static NpyArray grouped(NpyArray array, int64_t dim, int64_t groups) {
  int64_t size = array.shape[size_t(dim)];
  array.shape[size_t(dim)] = size / groups;
  array.shape.insert(array.shape.begin() + dim, groups);
  return array;
}

/// The inverse of `grouped`.
static NpyArray merged(NpyArray array, int64_t dim) {
  array.shape[size_t(dim) + 1] *= array.shape[size_t(dim)];
  array.shape.erase(array.shape.begin() + dim);
  return array;
}

static NpyArray sliceContiguous(const NpyArray &array, int64_t dim,
                                int64_t parts, int64_t index) {
  NpyArray part;
  part.dtype = array.dtype;
  part.shape = array.shape;
  part.shape[size_t(dim)] /= parts;
  auto [inner, outer] = runsAlong(array, dim);
  size_t chunk = inner * size_t(part.shape[size_t(dim)]);
  size_t whole = inner * size_t(array.shape[size_t(dim)]);
  part.data.resize(chunk * size_t(outer));
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(part.data.data() + size_t(o) * chunk,
                array.data.data() + size_t(o) * whole + size_t(index) * chunk,
                chunk);
  return part;
}

static NpyArray concatContiguous(llvm::ArrayRef<NpyArray> pieces, int64_t dim) {
  NpyArray whole;
  whole.dtype = pieces.front().dtype;
  whole.shape = pieces.front().shape;
  whole.shape[size_t(dim)] = 0;
  for (const NpyArray &p : pieces)
    whole.shape[size_t(dim)] += p.shape[size_t(dim)];
  auto [inner, outer] = runsAlong(whole, dim);
  size_t wholeRun = inner * size_t(whole.shape[size_t(dim)]);
  whole.data.resize(wholeRun * size_t(outer));
  size_t at = 0;
  for (const NpyArray &p : pieces) {
    size_t run = inner * size_t(p.shape[size_t(dim)]);
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(whole.data.data() + size_t(o) * wholeRun + at,
                  p.data.data() + size_t(o) * run, run);
    at += run;
  }
  return whole;
}

NpyArray autopar::sliceAlong(const NpyArray &array, int64_t dim, int64_t parts,
                             int64_t index, int64_t groups) {
  assert(dim >= 0 && size_t(dim) < array.shape.size() && parts > 0 &&
         groups > 0 && array.shape[size_t(dim)] % (parts * groups) == 0 &&
         "bad slice");
  if (groups == 1)
    return sliceContiguous(array, dim, parts, index);
  return merged(
      sliceContiguous(grouped(array, dim, groups), dim + 1, parts, index), dim);
}

NpyArray autopar::concatAlong(llvm::ArrayRef<NpyArray> pieces, int64_t dim,
                              int64_t groups) {
  assert(!pieces.empty() && "nothing to concatenate");
  if (groups == 1)
    return concatContiguous(pieces, dim);
  std::vector<NpyArray> split;
  for (const NpyArray &p : pieces)
    split.push_back(grouped(p, dim, groups));
  return merged(concatContiguous(split, dim + 1), dim);
}
