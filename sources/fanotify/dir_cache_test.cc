#include "sources/fanotify/dir_cache.h"

#include <gtest/gtest.h>

namespace vigil::sources::fanotify {
namespace {

DirKey Key(uint8_t b, uint64_t fsid = 1) {
  const uint8_t bytes[] = {b, 0, 0, b};
  return DirKey::From(fsid, 1, bytes);
}

TEST(DirCache, HitMissAndEvictionOrder) {
  DirCache cache(2);
  cache.Insert(Key(1), "/a");
  cache.Insert(Key(2), "/b");
  ASSERT_NE(cache.Find(Key(1)), nullptr);  // 1 is now most recent
  cache.Insert(Key(3), "/c");              // evicts 2
  EXPECT_EQ(cache.Find(Key(2)), nullptr);
  ASSERT_NE(cache.Find(Key(1)), nullptr);
  EXPECT_EQ(*cache.Find(Key(1)), "/a");
  EXPECT_EQ(*cache.Find(Key(3)), "/c");
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.Find(Key(1, /*fsid=*/2)), nullptr);  // same handle, other filesystem
}

TEST(DirCache, InsertOverwrites) {
  DirCache cache(4);
  cache.Insert(Key(1), "/a");
  cache.Insert(Key(1), "/b");
  EXPECT_EQ(*cache.Find(Key(1)), "/b");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(DirCache, InvalidatePrefixDropsTheSubtreeOnly) {
  DirCache cache(8);
  cache.Insert(Key(1), "/srv/a");
  cache.Insert(Key(2), "/srv/a/b");
  cache.Insert(Key(3), "/srv/ab");
  cache.Insert(Key(4), "/srv");
  cache.InvalidatePrefix("/srv/a");
  EXPECT_EQ(cache.Find(Key(1)), nullptr);
  EXPECT_EQ(cache.Find(Key(2)), nullptr);
  EXPECT_NE(cache.Find(Key(3)), nullptr);
  EXPECT_NE(cache.Find(Key(4)), nullptr);
}

TEST(DirCache, ZeroCapacityCachesNothing) {
  DirCache cache(0);
  cache.Insert(Key(1), "/a");
  EXPECT_EQ(cache.Find(Key(1)), nullptr);
}

TEST(PathIsUnder, ComponentBoundaries) {
  EXPECT_TRUE(PathIsUnder("/var/log/vigil", "/var/log/vigil"));
  EXPECT_TRUE(PathIsUnder("/var/log/vigil/x", "/var/log/vigil"));
  EXPECT_TRUE(PathIsUnder("/var/log/vigil/x", "/var/log/vigil/"));
  EXPECT_FALSE(PathIsUnder("/var/log/vigilant", "/var/log/vigil"));
  EXPECT_FALSE(PathIsUnder("/var/log", "/var/log/vigil"));
  EXPECT_TRUE(PathIsUnder("/etc", "/"));
  EXPECT_FALSE(PathIsUnder("/etc", ""));
  EXPECT_FALSE(PathIsUnder("name-only", "/"));
}

}  // namespace
}  // namespace vigil::sources::fanotify
