package com.flowerpipeline.demo.core

/**
 * A small JSON reader for model.json.
 *
 * Plain Kotlin on purpose: org.json ships with Android but not with a plain JVM, and this
 * file must compile and be tested without the Android SDK. Objects keep their key order
 * (LinkedHashMap) because class labels are listed in the order of the model's outputs.
 */
class JsonException(message: String) : Exception(message)

object Json {
    fun parse(text: String): Any? {
        val reader = Reader(text)
        val value = reader.value()
        reader.skipSpace()
        if (!reader.atEnd()) reader.fail("unexpected trailing text")
        return value
    }

    private class Reader(val s: String) {
        var i = 0

        fun atEnd() = i >= s.length

        fun fail(why: String): Nothing = throw JsonException("$why at offset $i")

        fun skipSpace() {
            while (!atEnd() && s[i].isWhitespace()) i++
        }

        fun expect(c: Char) {
            skipSpace()
            if (atEnd() || s[i] != c) fail("expected '$c'")
            i++
        }

        fun value(): Any? {
            skipSpace()
            if (atEnd()) fail("unexpected end of input")
            return when (val c = s[i]) {
                '{' -> obj()
                '[' -> array()
                '"' -> string()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> if (c == '-' || c.isDigit()) number() else fail("unexpected '$c'")
            }
        }

        fun literal(word: String, result: Any?): Any? {
            if (!s.startsWith(word, i)) fail("expected $word")
            i += word.length
            return result
        }

        fun obj(): Map<String, Any?> {
            val out = LinkedHashMap<String, Any?>()
            expect('{')
            skipSpace()
            if (s.getOrNull(i) == '}') { i++; return out }
            while (true) {
                skipSpace()
                val key = string()
                expect(':')
                out[key] = value()
                skipSpace()
                when (s.getOrNull(i)) {
                    ',' -> i++
                    '}' -> { i++; return out }
                    else -> fail("expected ',' or '}'")
                }
            }
        }

        fun array(): List<Any?> {
            val out = ArrayList<Any?>()
            expect('[')
            skipSpace()
            if (s.getOrNull(i) == ']') { i++; return out }
            while (true) {
                out.add(value())
                skipSpace()
                when (s.getOrNull(i)) {
                    ',' -> i++
                    ']' -> { i++; return out }
                    else -> fail("expected ',' or ']'")
                }
            }
        }

        fun string(): String {
            if (s.getOrNull(i) != '"') fail("expected a string")
            i++
            val out = StringBuilder()
            while (true) {
                if (atEnd()) fail("unterminated string")
                val c = s[i++]
                when (c) {
                    '"' -> return out.toString()
                    '\\' -> out.append(escape())
                    else -> out.append(c)
                }
            }
        }

        fun escape(): Char {
            if (atEnd()) fail("unterminated escape")
            return when (val c = s[i++]) {
                'n' -> '\n'; 't' -> '\t'; 'r' -> '\r'; 'b' -> '\b'; 'f' -> '\u000C'
                '"', '\\', '/' -> c
                'u' -> {
                    if (i + 4 > s.length) fail("short \\u escape")
                    val code = s.substring(i, i + 4).toIntOrNull(16) ?: fail("bad \\u escape")
                    i += 4
                    code.toChar()
                }
                else -> fail("bad escape '\\$c'")
            }
        }

        fun number(): Double {
            val start = i
            while (!atEnd() && (s[i].isDigit() || s[i] in "+-.eE")) i++
            return s.substring(start, i).toDoubleOrNull() ?: fail("bad number")
        }
    }
}
