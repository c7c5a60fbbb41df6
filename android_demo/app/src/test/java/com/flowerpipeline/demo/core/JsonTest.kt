package com.flowerpipeline.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test

class JsonTest {
    @Test
    fun parsesNestedValuesAndKeepsKeyOrder() {
        val v = Json.parse("""{"b": [1, 2.5e1, -3], "a": {"t": true, "f": false, "n": null}}""").asObject("root")
        assertEquals(listOf("b", "a"), v.keys.toList())
        assertEquals(listOf(1.0, 25.0, -3.0), v["b"])
        assertEquals(mapOf("t" to true, "f" to false, "n" to null), v["a"])
    }

    @Test
    fun decodesEscapes() {
        assertEquals("a\"b\\c\nd\u00e9/", Json.parse("\"a\\\"b\\\\c\\nd\\u00e9\\/\""))
    }

    @Test
    fun rejectsBrokenInputWithAnOffset() {
        val e = assertThrows(JsonException::class.java) { Json.parse("""{"a": [1, 2}""") }
        assertEquals("expected ',' or ']' at offset 11", e.message)
        assertThrows(JsonException::class.java) { Json.parse("""{"a": 1} x""") }
        assertThrows(JsonException::class.java) { Json.parse("\"open") }
    }
}
