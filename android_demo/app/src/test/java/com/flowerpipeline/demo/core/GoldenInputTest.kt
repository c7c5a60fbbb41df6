package com.flowerpipeline.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import java.io.File
import javax.imageio.ImageIO

/**
 * Fixed images through the Kotlin preprocessing must give the very bytes that Python's
 * `pipeline predict` feeds the model, photos with an EXIF Orientation tag included. `make test-clients` writes the images, the exported
 * models (each reads its own spec, as the app does) and Python's input tensors into the folder
 * named by -Dgolden.dir, and sets
 * -Dgolden.required=true so that a missing folder fails instead of skipping.
 */
class GoldenInputTest {
    private val dir = System.getProperty("golden.dir")?.takeIf { it.isNotBlank() }?.let(::File)

    @Test
    fun kotlinPreprocessingMatchesPythonByteForByte() {
        if (System.getProperty("golden.required") == "true") {
            assertTrue("golden.dir $dir has no golden_cases.json", dir != null && File(dir, "golden_cases.json").isFile)
        }
        assumeTrue("no golden.dir: run `make test-clients` to write the fixtures", dir != null)
        val cases = Json.parse(File(dir, "golden_cases.json").readText()).asList("golden_cases.json")
        assertTrue("golden_cases.json lists no cases", cases.isNotEmpty())
        for (case in cases) check(case.asObject("case"))
    }

    private fun check(case: Map<String, Any?>) {
        val spec = ModelFile.spec(File(dir, case.field("model") as String).readBytes())
        val variant = spec.variant(case.field("variant") as String)
        val q = case["quantization"]?.asList("quantization")
            ?.let { Quantization((it[0] as Double).toFloat(), (it[1] as Double).toInt()) }
        val image = ImageIO.read(File(dir, case.field("image") as String)) // as stored: no EXIF
        val argb = image.getRGB(0, 0, image.width, image.height, null, 0, image.width)
        // A photo with an EXIF Orientation tag: the app reads the tag (ExifInterface) and reads
        // the pixels turned; Python's loader turned the same file with Pillow's exif_transpose.
        val orientation = (case["orientation"] as Double?)?.toInt() ?: Orientation.NORMAL
        // Read through the orientation's mapping, as the app does: no turned copy is made.
        val actual = Preprocessor(variant.input, q).toBytes(argb, image.width, image.height, orientation)
        val expected = File(dir, case.field("expected") as String).readBytes()
        val label = "${case["image"]} as ${variant.key}"
        assertEquals("$label: byte count", expected.size, actual.size)
        val firstDiff = expected.indices.firstOrNull { expected[it] != actual[it] }
        assertEquals("$label: first differing byte (of ${expected.size})", null, firstDiff)
    }
}
